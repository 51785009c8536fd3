package track

import (
	"html"
	"slices"
	"strings"

	xhtml "golang.org/x/net/html"
)

// NoTrack is the attribute that keeps a link out of click tracking.
const NoTrack = "data-overture-notrack"

// Rewrite returns body with every http(s) <a href> replaced by its click
// URL and an open pixel inserted before the last </body> (or appended
// when there is none). Other links (mailto:, tel:, #anchors, relative
// ones) and links with a data-overture-notrack attribute are left alone.
// Only the href values change and the pixel is added: every other byte of
// body is kept. Markup in comments (Outlook conditional comments
// included) is not touched.
func (s *Signer) Rewrite(body string, ref Ref) string {
	type edit struct {
		from, to int // the byte range of body replaced
		with     string
	}
	var edits []edit
	bodyEnd := -1
	z := xhtml.NewTokenizer(strings.NewReader(body))
	pos := 0
	for {
		tt := z.Next()
		raw := z.Raw()
		start := pos
		pos += len(raw)
		if tt == xhtml.ErrorToken {
			break // io.EOF (raw is what was left unterminated): a strings.Reader has no other error
		}
		switch tt {
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "a" || !hasAttr {
				continue
			}
			href, ok := linkTarget(z)
			if !ok {
				continue
			}
			if vs, ve, found := hrefValue(raw); found {
				edits = append(edits, edit{start + vs, start + ve, `"` + html.EscapeString(s.ClickURL(ref, href)) + `"`})
			}
		case xhtml.EndTagToken:
			if name, _ := z.TagName(); string(name) == "body" {
				bodyEnd = start
			}
		}
	}
	pixel := `<img src="` + html.EscapeString(s.OpenURL(ref)) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`
	if pos != len(body) {
		// The tokens did not cover the body (it should not happen): the
		// offsets cannot be trusted, so only the pixel is added.
		edits, bodyEnd = nil, len(body)
	}
	if bodyEnd < 0 {
		bodyEnd = len(body)
	}
	edits = append(edits, edit{bodyEnd, bodyEnd, pixel})
	slices.SortStableFunc(edits, func(a, b edit) int { return a.from - b.from })
	var b strings.Builder
	b.Grow(len(body) + len(edits)*160)
	last := 0
	for _, e := range edits {
		b.WriteString(body[last:e.from])
		b.WriteString(e.with)
		last = e.to
	}
	b.WriteString(body[last:])
	return b.String()
}

// linkTarget reads the current <a> tag's attributes: the first href, if
// it is an absolute http(s) URL and the tag has no NoTrack attribute.
func linkTarget(z *xhtml.Tokenizer) (string, bool) {
	href, haveHref, notrack := "", false, false
	for {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "href":
			if !haveHref {
				href, haveHref = strings.TrimSpace(string(v)), true
			}
		case NoTrack:
			notrack = true
		}
		if !more {
			break
		}
	}
	if !haveHref || notrack || !isHTTP(href) {
		return "", false
	}
	return href, true
}

// hrefValue finds the value of the first href attribute in a raw start
// tag (as the tokenizer cut it out): the byte range of the value,
// quotes included. It follows the HTML attribute syntax the tokenizer
// does: names end at whitespace, '/', '=' or '>'; values are quoted
// with " or ', or unquoted up to whitespace or '>'.
func hrefValue(tag []byte) (from, to int, ok bool) {
	i := 1 // past '<'
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++ // the tag name
	}
	for i < len(tag) {
		for i < len(tag) && (isSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		if i >= len(tag) || tag[i] == '>' {
			return 0, 0, false
		}
		ns := i
		i++ // a name may start with '='
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '=' && tag[i] != '>' {
			i++
		}
		name := strings.ToLower(string(tag[ns:i]))
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			continue // an attribute without a value
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		vs := i
		if i < len(tag) && (tag[i] == '"' || tag[i] == '\'') {
			q := tag[i]
			i++
			for i < len(tag) && tag[i] != q {
				i++
			}
			if i < len(tag) {
				i++ // the closing quote
			}
		} else {
			for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' {
				i++
			}
		}
		if name == "href" {
			return vs, i, true
		}
	}
	return 0, 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
