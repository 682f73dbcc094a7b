package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/nlfs/nlfs/engine"
)

// guard refuses, before any endpoint runs, every request that is not from the page's own
// origin with its token: a Host that is not the address served (DNS rebinding) and an Origin
// that is not the page's own (another site, or another port of this machine, in the user's
// browser) are refused with 403, a missing or wrong token with 401. Every answer also carries
// the headers that keep it out of caches, frames and other sites' referrers.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", cspNone)
		if !s.hosts[strings.ToLower(r.Host)] {
			refuse(w, http.StatusForbidden, fmt.Sprintf("Host %q is not the address served (%s)", r.Host, s.url))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
			refuse(w, http.StatusForbidden, fmt.Sprintf("Origin %q is not the page's own (http://%s)", o, r.Host))
			return
		}
		// Browsers say where a request comes from even when they send no Origin (a GET, an
		// image): only the page itself, or the user opening the address, may reach it.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			refuse(w, http.StatusForbidden, fmt.Sprintf("a %s request: open the page's address directly", site))
			return
		}
		if !s.tokenOK(r) {
			h.Set("WWW-Authenticate", `Bearer realm="nlfs"`)
			refuse(w, http.StatusUnauthorized, "token missing or wrong: open the address nlfs printed (it is in the mount's web file)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenOK reports whether r carries the token, as ?token= or "Authorization: Bearer".
func (s *Server) tokenOK(r *http.Request) bool {
	same := func(t string) bool { return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1 }
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && same(strings.TrimSpace(t)) {
		return true
	}
	return same(r.URL.Query().Get("token"))
}

// refuse answers with code and a one-line message.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, engine.OneLine(msg))
}
