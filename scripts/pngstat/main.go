// Command pngstat checks what scripts/check-svg.sh renders: for each argument, an .svg must parse as
// XML with an <svg> root in the SVG namespace carrying a viewBox and a <title>, and a .png must decode
// and not be all one colour (a browser that failed to draw leaves a blank page). It prints one line per
// file and exits 1 if any check fails. Standard library only, so the script needs nothing but Go.
package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pngstat FILE.svg|FILE.png ...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		var msg string
		var err error
		if strings.HasSuffix(path, ".svg") {
			msg, err = checkSVG(path)
		} else {
			msg, err = checkPNG(path)
		}
		if err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: %s\n", path, msg)
	}
	if failed {
		os.Exit(1)
	}
}

// checkPNG decodes the picture and counts its colours; one colour means nothing was drawn.
func checkPNG(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return "", fmt.Errorf("not a readable PNG: %v", err)
	}
	b := img.Bounds()
	if b.Empty() {
		return "", errors.New("empty PNG")
	}
	colours := map[[4]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}]++
		}
	}
	if len(colours) < 2 {
		return "", fmt.Errorf("blank: %dx%d pixels all one colour", b.Dx(), b.Dy())
	}
	bg := 0
	for _, n := range colours {
		bg = max(bg, n)
	}
	drawn := 100 * float64(b.Dx()*b.Dy()-bg) / float64(b.Dx()*b.Dy())
	return fmt.Sprintf("%dx%d, %d colours, %.1f%% drawn", b.Dx(), b.Dy(), len(colours), drawn), nil
}

// checkSVG parses the whole document, as a browser would before drawing anything.
func checkSVG(path string) (string, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var root *xml.StartElement
	depth, inTitle, title := 0, false, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = &tok
			}
			inTitle = depth == 1 && tok.Name.Local == "title"
			depth++
		case xml.EndElement:
			depth--
			inTitle = false
		case xml.CharData:
			if inTitle {
				title += string(tok)
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		return "", errors.New("root element is not <svg> in the SVG namespace")
	}
	viewBox := ""
	for _, a := range root.Attr {
		if a.Name.Local == "viewBox" {
			viewBox = a.Value
		}
	}
	if len(strings.Fields(viewBox)) != 4 {
		return "", errors.New("root <svg> has no viewBox")
	}
	if strings.TrimSpace(title) == "" {
		return "", errors.New("no <title>")
	}
	return fmt.Sprintf("%d bytes, viewBox %q, title %q", len(doc), viewBox, strings.TrimSpace(title)), nil
}
