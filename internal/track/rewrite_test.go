package track

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var clickRe = regexp.MustCompile(`"` + regexp.QuoteMeta(testBase) + `/t/c/([A-Za-z0-9_-]+)"`)

func TestRewriteEmail(t *testing.T) {
	s := newTestSigner(t)
	in, err := os.ReadFile("testdata/email.html")
	if err != nil {
		t.Fatal(err)
	}
	out := s.Rewrite(string(in), testRef)

	golden := "testdata/email.golden.html"
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if out != string(want) {
		t.Errorf("Rewrite differs from %s (run go test -update and review the diff)", golden)
	}

	// The tracked links, in order, each redirecting to the decoded href.
	var targets []string
	for _, m := range clickRe.FindAllStringSubmatch(out, -1) {
		ref, target, err := s.VerifyClick(m[1])
		if err != nil || ref != testRef {
			t.Fatalf("click token %s: %+v %v", m[1], ref, err)
		}
		targets = append(targets, target)
	}
	wantTargets := []string{
		"https://shop.example.com/start?utm_source=email&utm_campaign=welcome", // &amp; decoded
		"HTTPS://Shop.Example.com/Deals",
		"http://blog.example.com/post?id=42",
		"https://help.example.com/faq", // spaces trimmed
		"https://help.example.com/contact",
	}
	if strings.Join(targets, "\n") != strings.Join(wantTargets, "\n") {
		t.Errorf("tracked links:\n%s\nwant:\n%s", strings.Join(targets, "\n"), strings.Join(wantTargets, "\n"))
	}
	// Left alone.
	for _, keep := range []string{
		`href="mailto:help@example.com?subject=Hi%20there"`, `href="tel:+15551234567"`, `href="#top"`, `href="/account"`,
		`<a href="https://acme.example.com/unsubscribe?u=p1" data-overture-notrack>`,
		`<a data-overture-notrack="" href="https://acme.example.com/prefs">`,
		`href="https://shop.example.com/start?src=vml"`,                         // in a conditional comment
		`<a href="https://style.example.com/">not a link</a>`,                   // in a style sheet
		`<script type="text/x-template"><a href="https://script.example.com/">`, // in a script
		`<A HREF=`, `style="background:#0057ff; padding:12px 24px;" target="_blank">`, `<a class=plain href=`,
	} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lost %s", keep)
		}
	}
	// The pixel, once, just before </body>.
	pixel := `<img src="` + s.OpenURL(testRef) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`
	if strings.Count(out, s.OpenURL(testRef)) != 1 || !strings.Contains(out, pixel+"</body>") {
		t.Errorf("the pixel is not once, just before </body>:\n%s", out[max(0, strings.Index(out, "</body>")-200):])
	}
	// Everything else is byte for byte the input: undo the edits.
	undo := strings.Replace(out, pixel, "", 1)
	for _, m := range clickRe.FindAllString(undo, -1) {
		undo = strings.Replace(undo, m, "@@", 1)
	}
	orig := string(in)
	for _, raw := range []string{
		`"https://shop.example.com/start?utm_source=email&amp;utm_campaign=welcome"`, `'HTTPS://Shop.Example.com/Deals'`,
		`http://blog.example.com/post?id=42`, `"  https://help.example.com/faq  "`, `"https://help.example.com/contact"`,
	} {
		orig = strings.Replace(orig, raw, "@@", 1)
	}
	if undo != orig {
		t.Errorf("bytes outside the rewritten hrefs changed")
	}
}

func TestRewriteEdges(t *testing.T) {
	s := newTestSigner(t)
	pixel := `<img src="` + s.OpenURL(testRef) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`
	click := s.ClickURL(testRef, "https://x.example.com/")
	tests := []struct{ name, in, want string }{
		{"fragment without body", `<p><a href="https://x.example.com/">x</a></p>`, `<p><a href="{C}">x</a></p>{P}`},
		{"empty", ``, `{P}`},
		{"upper-case BODY, last one wins", `<body>a</BODY>b</body >c`, `<body>a</BODY>b{P}</body >c`},
		{"link after the body", `<body></body><a href="https://x.example.com/">x</a>`, `<body>{P}</body><a href="{C}">x</a>`},
		{"first href counts", `<a href="#" href="https://x.example.com/">x</a>`, `<a href="#" href="https://x.example.com/">x</a>{P}`},
		{"self-closing a", `<a href="https://x.example.com/"/>`, `<a href="{C}"/>{P}`},
		{"unquoted before >", `<a href=https://x.example.com/>x</a>`, `<a href="{C}">x</a>{P}`},
		{"spaces around =", "<a href = \n 'https://x.example.com/'>x</a>", "<a href = \n \"{C}\">x</a>{P}"},
		{"unterminated tag", `<a href="https://x.example.com/`, `<a href="https://x.example.com/{P}`},
		{"link, then an unterminated tag", `<a href="https://x.example.com/">x</a><a href="https://y`, `<a href="{C}">x</a><a href="https://y{P}`},
		{"link, then an unterminated comment", `<a href="https://x.example.com/">x</a><!-- </body>`, `<a href="{C}">x</a><!-- </body>{P}`},
		{"protocol-relative kept", `<a href="//x.example.com/">x</a>`, `<a href="//x.example.com/">x</a>{P}`},
		{"javascript kept", `<a href="javascript:void(0)">x</a>`, `<a href="javascript:void(0)">x</a>{P}`},
		{"in a comment", `<!-- <a href="https://x.example.com/"> --></body>`, `<!-- <a href="https://x.example.com/"> -->{P}</body>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.NewReplacer("{P}", pixel, "{C}", click).Replace(tt.want)
			if got := s.Rewrite(tt.in, testRef); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzRewrite: any input gives exactly one pixel, and every click URL in
// the output redirects to an http(s) URL.
func FuzzRewrite(f *testing.F) {
	s := newTestSigner(f)
	in, _ := os.ReadFile("testdata/email.html")
	f.Add(string(in))
	f.Add(`<a href=https://x.example.com/ data-overture-notrack>`)
	f.Add(`<a =href="https://x.example.com/" href='https://y.example.com/'>`)
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, testBase) {
			return
		}
		out := s.Rewrite(body, testRef)
		if n := strings.Count(out, s.OpenURL(testRef)); n != 1 {
			t.Fatalf("%d pixels", n)
		}
		for _, m := range clickRe.FindAllStringSubmatch(out, -1) {
			if _, target, err := s.VerifyClick(m[1]); err != nil || !isHTTP(target) {
				t.Fatalf("click %s: %q %v", m[1], target, err)
			}
		}
		if len(out) < len(body) {
			t.Fatalf("output shorter than input")
		}
	})
}
