package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// served is where the page is: its address without the token, and the Host header values a
// request may carry (anything else is refused, against DNS rebinding: a name of the attacker's
// that resolves to this machine still arrives with that name as its Host).
type served struct {
	url      string
	hosts    map[string]bool
	loopback bool
}

// servedAt works out what the listener at got (asked as addr) serves. The page's address names
// the listener's IP, so what is printed is exactly what is served; the Host a browser sends
// for it, or for the name asked (as "localhost:8080"), is accepted. A listener on every address
// (0.0.0.0, ::) serves the machine's host name and the IPs of its interfaces.
func servedAt(addr string, at *net.TCPAddr) (served, error) {
	port := strconv.Itoa(at.Port)
	s := served{hosts: map[string]bool{}, loopback: at.IP.IsLoopback()}
	add := func(host string) { s.hosts[strings.ToLower(net.JoinHostPort(host, port))] = true }
	asked, _, err := net.SplitHostPort(addr)
	if err != nil {
		return served{}, fmt.Errorf("web: address %q: %w", addr, err)
	}
	switch {
	case at.IP.IsUnspecified():
		host, err := os.Hostname()
		if err != nil {
			return served{}, fmt.Errorf("web: serving every address needs the host name: %w", err)
		}
		s.url = "http://" + net.JoinHostPort(host, port) + "/"
		add(host)
		add("localhost")
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return served{}, fmt.Errorf("web: list the addresses served: %w", err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				add(ipn.IP.String())
			}
		}
	default:
		s.url = "http://" + net.JoinHostPort(at.IP.String(), port) + "/"
		add(at.IP.String())
		if at.IP.IsLoopback() {
			add("localhost")
		}
	}
	if asked != "" {
		add(asked)
	}
	return s, nil
}

// tokenChars is what a given token may be made of: characters a URL carries as they are.
var tokenChars = regexp.MustCompile(`^[A-Za-z0-9._~-]{32,}$`)

// chooseToken returns the given token if it is long enough and URL-safe, else a new random
// one of 128 bits.
func chooseToken(given string) (string, error) {
	if given != "" {
		if !tokenChars.MatchString(given) {
			return "", fmt.Errorf("web: a token must be at least 32 letters, digits, '-', '_', '.' or '~'")
		}
		return given, nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: make a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// discardLog swallows net/http's own complaints (a client that went away, a bad request):
// each is answered or the connection closed, and a daemon's terminal is no place for them.
var discardLog = log.New(io.Discard, "", 0)
