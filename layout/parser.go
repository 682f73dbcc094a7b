package layout

import (
	"bytes"
	"math/big"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"github.com/nlfs/nlfs/run"
)

// maxNumber is the largest number a layout may contain (see the package comment).
const maxNumber = 1 << 52

// maxShown bounds how much unexpected text an error quotes, so that garbage costs O(1) memory.
const maxShown = 32

// eof is the pseudo-byte that ends the text.
const eof = -1

const msgRemapArgs = "remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"

// state is what the parser is in the middle of.
type state uint8

const (
	stSep      state = iota // between tokens
	stComment               // after '#', up to the end of the line
	stNumber                // inside a number
	stOperator              // just after '-' or '*': a number must follow
	stWord                  // inside a word that may yet spell "remap"
	stBad                   // inside unexpected text, collected for the error message
)

// role is what the number being read stands for.
type role uint8

const (
	roleFirst  role = iota // the page of N, or A of A-B
	roleLast               // B of A-B
	roleRepeat             // K of E*K
	roleRemap              // an argument of remap; Parser.nargs says which
)

// phase is how far a number has got.
type phase uint8

const (
	numZero      phase = iota // a lone "0": "0x" may follow
	numDec                    // decimal digits
	numHexPrefix              // "0x": a hex digit must follow
	numHex                    // hex digits
)

// Parser checks a layout as it arrives in arbitrary chunks (the FUSE `layout` file is written in
// pieces of any size, split anywhere, even inside a number or a keyword or a comment). It reads the
// text byte by byte through a small state machine and builds the runs as entries complete, so its
// memory is bounded by the view (and the remap bookkeeping by the maximum view), never by the text.
// A Parser is not safe for concurrent use; create one with NewParser.
type Parser struct {
	dataPages, maxView int64
	err                *Error
	at                 pos // position of the next byte

	st    state
	tok   pos // start of the token being read (number, word, operator or unexpected text)
	num   int64
	phase phase
	role  role
	spelt int    // bytes of "remap" matched in stWord
	bad   []byte // start of the unexpected text in stBad, at most maxShown bytes
	more  bool   // the unexpected text is longer than bad

	// The page list entry being read.
	entry               pos
	first, last, repeat int64

	// The line being read.
	lineUsed bool // an entry started on this line
	nargs    int  // remap arguments read on this line; -1 when the line is not a remap line
	args     [3]int64
	remapAt  pos

	// The page list so far.
	runs   []run.Run
	total  int64
	listed bool

	top   int64 // highest store page named so far, -1 for none
	topAt pos

	// Remap lines so far. Their effect on view pages is kept as paint (a store page per view page,
	// -1 where no remap reached) plus pending lines not yet painted; pending is painted onto paint in
	// batches, so that their memory is bounded by the maximum view and their cost stays near-linear.
	// stairs keeps what the final range check needs: the remap lines whose end passes all earlier ones.
	// doomed is set by a remap that ends past the maximum view: the text can no longer succeed, so
	// later remap lines are not recorded.
	stairs  []stair
	doomed  bool
	paint   []int64
	pending []remap

	// remaps counts the remap lines begun so far (RemapOnly reads it). With steps set (by Steps),
	// calls records each complete remap line as a Step, up to MaxSteps of them, and tooMany is the
	// error that the next one would be: the step drawings read the calls from this very lexer, so
	// that whatever the language accepts, they read alike.
	remaps  int
	steps   bool
	calls   []Step
	tooMany *Error
}

// remap is one remap line: view pages view..view+count-1 show store pages file..file+count-1.
type remap struct{ view, count, file int64 }

// stair is a remap line that ends (view+count) further than every remap line before it: the first
// remap line that runs past a view of any size is always one of them.
type stair struct {
	view, end int64
	at        pos
}

// NewParser returns a parser for one layout text checked against lim.
func NewParser(lim Limits) *Parser {
	maxView := lim.MaxViewPages
	if maxView <= 0 {
		maxView = DefaultMaxViewPages
	}
	return &Parser{
		dataPages: lim.DataPages,
		maxView:   maxView,
		at:        pos{1, 1},
		nargs:     -1,
		top:       -1,
	}
}

// Write consumes the next chunk. It returns the first *Error found in the text so far (a token is
// judged once it is complete: a chunk ending inside a number keeps it pending) and, with it, the
// bytes of b read up to the one that revealed it. Once it has returned an error, every later Write
// and Finish return that same error. A comment, a run of separators or unexpected text of any length
// costs O(1) memory, and a number fails as soon as it passes 2^52.
func (p *Parser) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	for i := 0; i < len(b); i++ {
		if n := p.skim(b[i:]); n > 0 {
			p.at.col += n
			i += n - 1
			continue
		}
		c := b[i]
		p.step(int(c))
		if p.err != nil {
			return i + 1, p.err
		}
		if c == '\n' {
			p.at = pos{p.at.line + 1, 1}
		} else {
			p.at.col++
		}
	}
	return len(b), nil
}

// skim is step's fast path: it consumes the leading bytes of b that stay in the current state and
// stay on the line (separators, a comment's body, the digits of a decimal number) and returns how
// many. It leaves every other byte, and a digit that would make the number too large, to step.
func (p *Parser) skim(b []byte) int {
	j := 0
	switch {
	case p.st == stComment:
		if j = bytes.IndexByte(b, '\n'); j < 0 {
			j = len(b)
		}
	case p.st == stSep:
		for j < len(b) && isSpace(int(b[j])) {
			j++
		}
	case p.st == stNumber && p.phase == numDec:
		for ; j < len(b) && isDigit(int(b[j])); j++ {
			v := p.num*10 + int64(b[j]-'0')
			if v > maxNumber {
				break
			}
			p.num = v
		}
	}
	return j
}

// Finish ends the text and returns the layout (applying remap lines), or the error the end reveals:
// an unfinished entry or remap line, a remap running past the end of the view. It works on a copy
// of the parser, so those errors do not stick: more Writes may follow and a later Finish returns
// the layout of the longer text. Its cost is linear in the view, whatever the text.
func (p *Parser) Finish() (*Layout, error) {
	if p.err != nil {
		return nil, p.err
	}
	// Ending the text may extend the last run in place and paint remaps; everything else the copy
	// touches is only appended past the lengths p knows about.
	c := *p
	c.runs = slices.Clone(p.runs)
	c.paint = slices.Clone(p.paint)
	return c.finish()
}

func (p *Parser) finish() (*Layout, error) {
	p.step(eof)
	if p.err != nil {
		return nil, p.err
	}
	return p.layout()
}

func (p *Parser) fail(at pos, format string, args ...any) *Error {
	p.err = errorAt(at, format, args...)
	return p.err
}

// isSpace reports whether c separates entries without ending the line.
func isSpace(c int) bool { return c == ' ' || c == '\t' || c == ',' || c == '\r' }

// isDelim reports whether c ends a token.
func isDelim(c int) bool { return isSpace(c) || c == '\n' || c == '#' || c == eof }

func isDigit(c int) bool { return '0' <= c && c <= '9' }

// hexValue returns the value of hex digit c, or -1.
func hexValue(c int) int64 {
	switch {
	case isDigit(c):
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int64(c - 'A' + 10)
	}
	return -1
}

// step reads byte c (or eof) at p.at.
func (p *Parser) step(c int) {
	var ended bool // c ended a token and must be read again as a separator
	switch p.st {
	case stSep:
		p.sep(c)
	case stComment:
		ended = c == '\n' || c == eof
	case stNumber:
		ended = p.number(c)
	case stOperator:
		p.operator(c)
	case stWord:
		ended = p.word(c)
	case stBad:
		p.unexpected(c)
	}
	if ended && p.err == nil {
		p.st = stSep
		p.sep(c)
	}
}

func (p *Parser) sep(c int) {
	switch {
	case isSpace(c):
	case c == '\n' || c == eof:
		p.endLine()
	case c == '#':
		p.st = stComment
	case p.nargs == len(p.args):
		p.fail(p.at, msgRemapArgs)
	case isDigit(c):
		if p.nargs >= 0 {
			p.role = roleRemap
		} else {
			p.role, p.entry, p.repeat, p.lineUsed = roleFirst, p.at, 1, true
		}
		p.startNumber(c)
	case c == 'r':
		p.st, p.tok, p.spelt = stWord, p.at, 1
	default:
		p.tok, p.bad, p.more = p.at, p.bad[:0], false
		p.st = stBad
		p.unexpected(c)
	}
}

func (p *Parser) startNumber(c int) {
	p.st, p.tok, p.num, p.phase = stNumber, p.at, int64(c-'0'), numDec
	if c == '0' {
		p.phase = numZero
	}
}

// number reads c inside a number and reports whether c ended the number and its entry.
func (p *Parser) number(c int) bool {
	switch p.phase {
	case numZero, numDec:
		if isDigit(c) {
			p.phase = numDec
			p.digit(int64(c-'0'), 10)
			return false
		}
		if p.phase == numZero && (c == 'x' || c == 'X') {
			p.phase = numHexPrefix
			return false
		}
	case numHexPrefix, numHex:
		if d := hexValue(c); d >= 0 {
			p.phase = numHex
			p.digit(d, 16)
			return false
		}
		if p.phase == numHexPrefix {
			p.fail(p.tok, `"0x" must be followed by hex digits`)
			return false
		}
	}
	p.endNumber()
	if p.err != nil {
		return false
	}
	switch {
	case isDelim(c):
		if p.role != roleRemap {
			p.endEntry()
		}
		return true
	case c == '-' && p.role == roleFirst:
		p.role = roleLast
	case c == '*' && (p.role == roleFirst || p.role == roleLast):
		p.role = roleRepeat
	default:
		p.tok, p.bad, p.more = p.at, p.bad[:0], false
		p.st = stBad
		p.unexpected(c)
		return false
	}
	p.st, p.tok = stOperator, p.at
	return false
}

// digit appends digit d in base to the number, failing as soon as the number passes maxNumber.
func (p *Parser) digit(d, base int64) {
	p.num = p.num*base + d // p.num was at most maxNumber, so this cannot overflow
	if p.num > maxNumber {
		shown := strconv.FormatInt(p.num, int(base))
		if base == 16 {
			shown = "0x" + shown
		}
		p.fail(p.tok, "number starting %s is too large (the maximum is %d)", shown, int64(maxNumber))
	}
}

func (p *Parser) operator(c int) {
	if isDigit(c) {
		p.startNumber(c)
		return
	}
	if p.role == roleLast {
		p.fail(p.tok, `"-" must be followed by a page number`)
	} else {
		p.fail(p.tok, `"*" must be followed by a repeat count`)
	}
}

// word reads c inside a word starting with 'r' and reports whether c ended the keyword "remap".
func (p *Parser) word(c int) bool {
	const keyword = "remap"
	if p.spelt < len(keyword) && c == int(keyword[p.spelt]) {
		p.spelt++
		return false
	}
	if p.spelt == len(keyword) && isDelim(c) {
		if p.lineUsed {
			p.fail(p.tok, "remap must be the first entry on its line")
			return false
		}
		p.lineUsed, p.nargs, p.remapAt = true, 0, p.tok
		p.remaps++
		return true
	}
	p.bad, p.more = append(p.bad[:0], keyword[:p.spelt]...), false
	p.st = stBad
	p.unexpected(c)
	return false
}

// unexpected collects unexpected text up to the next separator, then fails quoting it.
func (p *Parser) unexpected(c int) {
	if !isDelim(c) {
		if len(p.bad) < maxShown {
			p.bad = append(p.bad, byte(c))
		} else {
			p.more = true
		}
		return
	}
	if p.more {
		p.fail(p.tok, "unexpected %q...", p.bad)
	} else {
		p.fail(p.tok, "unexpected %q", p.bad)
	}
}

// endNumber gives the finished number its meaning.
func (p *Parser) endNumber() {
	v := p.num
	switch p.role {
	case roleFirst:
		p.storePages(v, p.tok)
		p.first, p.last = v, v
	case roleLast:
		p.storePages(v, p.tok)
		p.last = v
	case roleRepeat:
		if v == 0 {
			p.fail(p.tok, "repeat count must be at least 1")
		}
		p.repeat = v
	case roleRemap:
		p.args[p.nargs] = v
		p.nargs++
		switch p.nargs {
		case 2:
			if v == 0 {
				p.fail(p.tok, "remap NPAGES must be at least 1")
			}
		case 3:
			view, count, file := p.args[0], p.args[1], p.args[2]
			p.storePages(file+count-1, p.tok)
			p.addRemap(remap{view, count, file}, p.remapAt)
			p.recordCall(view, count, file)
		}
	}
}

// storePages checks that the text may name store page v (the highest of some pages) at position at.
func (p *Parser) storePages(v int64, at pos) {
	if v >= p.dataPages {
		p.fail(at, "%s", pastData(v, p.dataPages))
		return
	}
	if v > p.top {
		p.top, p.topAt = v, at
	}
}

// endEntry adds the finished page list entry to the runs, after checking the view size it leads to.
func (p *Parser) endEntry() {
	n := p.last - p.first
	if n < 0 {
		n = -n
	}
	n++
	hi, lo := bits.Mul64(uint64(n), uint64(p.repeat))
	if hi != 0 || lo > uint64(p.maxView-p.total) {
		p.fail(p.entry, "%s", overMax(p.total, n, p.repeat, p.maxView))
		return
	}
	for range p.repeat {
		if p.first <= p.last {
			p.runs = appendRun(p.runs, p.total, p.first, n)
			p.total += n
			continue
		}
		for f := p.first; f >= p.last; f-- {
			p.runs = appendRun(p.runs, p.total, f, 1)
			p.total++
		}
	}
	p.listed = true
}

// overMax says that a view of total+n*k pages is over the maximum; the product may not fit in 64 bits.
func overMax(total, n, k, maxView int64) string {
	pages := new(big.Int).Mul(big.NewInt(n), big.NewInt(k))
	pages.Add(pages, big.NewInt(total))
	return "view would have " + pages.String() + " pages, over the maximum of " +
		strconv.FormatInt(maxView, 10) + " (--max-view-pages)"
}

func (p *Parser) endLine() {
	if p.nargs >= 0 && p.nargs < len(p.args) {
		p.fail(p.remapAt, msgRemapArgs)
		return
	}
	p.nargs, p.lineUsed = -1, false
}

// addRemap records a complete remap line found at position at.
func (p *Parser) addRemap(r remap, at pos) {
	if p.err != nil || p.doomed {
		return
	}
	end := r.view + r.count
	if len(p.stairs) == 0 || end > p.stairs[len(p.stairs)-1].end {
		p.stairs = append(p.stairs, stair{r.view, end, at})
	}
	if end > p.maxView {
		p.doomed = true
		return
	}
	for int64(len(p.paint)) < end {
		p.paint = append(p.paint, -1)
	}
	p.pending = append(p.pending, r)
	if len(p.pending) >= len(p.paint)/4+1024 {
		paintReverse(p.paint, p.pending)
		p.pending = p.pending[:0]
	}
}

// paintReverse applies rems in order on top of dst (a store page per view page). It goes newest
// first and paints only view pages that no newer line has painted, skipping painted stretches with
// union-find "next unpainted page" pointers, so its cost is near-linear in len(dst)+len(rems) however
// much the lines overlap. Every line must end within dst.
func paintReverse(dst []int64, rems []remap) {
	next := make([]int, len(dst)+1)
	for i := range next {
		next[i] = i
	}
	find := func(i int) int {
		for next[i] != i {
			next[i] = next[next[i]]
			i = next[i]
		}
		return i
	}
	for _, r := range slices.Backward(rems) {
		end := int(r.view + r.count)
		for i := find(int(r.view)); i < end; i = find(i + 1) {
			dst[i] = r.file + int64(i) - r.view
			next[i] = i + 1
		}
	}
}

// layout builds the layout of the ended text, with the checks that need the final view size.
func (p *Parser) layout() (*Layout, error) {
	if !p.listed && len(p.stairs) == 0 {
		return &Layout{Pages: p.dataPages, Identity: true, top: -1}, nil
	}
	l := &Layout{Runs: p.runs, Pages: p.total, top: p.top, topAt: p.topAt}
	if !p.listed {
		// Remap lines alone apply to the identity view over the store as it is now; that view is
		// named, implicitly, by the first remap line.
		at := p.stairs[0].at
		if p.dataPages > p.maxView {
			return nil, p.fail(at, "%s", overMax(0, p.dataPages, 1, p.maxView))
		}
		l.Runs, l.Pages = run.Identity(p.dataPages), p.dataPages
		if p.dataPages-1 > l.top {
			l.top, l.topAt = p.dataPages-1, at
		}
	}
	if i := sort.Search(len(p.stairs), func(i int) bool { return p.stairs[i].end > l.Pages }); i < len(p.stairs) {
		s := p.stairs[i]
		span := "view page " + strconv.FormatInt(s.view, 10)
		if s.end-s.view > 1 {
			span = "view pages " + strconv.FormatInt(s.view, 10) + "-" + strconv.FormatInt(s.end-1, 10)
		}
		return nil, p.fail(s.at, "remap of %s runs past the end of the view (%d pages)", span, l.Pages)
	}
	if len(p.stairs) > 0 {
		pages := run.Pages(l.Runs)
		for i, f := range p.paint {
			if f >= 0 {
				pages[i] = f
			}
		}
		paintReverse(pages, p.pending)
		l.Runs = Compile(pages)
	}
	return l, nil
}
