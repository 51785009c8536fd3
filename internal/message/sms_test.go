package message

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSegments(t *testing.T) {
	r := strings.Repeat
	for _, c := range []struct {
		name     string
		body     string
		n        int
		encoding string
	}{
		{"empty", "", 0, EncodingGSM7},
		{"short", "Hello", 1, EncodingGSM7},
		{"GSM basic symbols", "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", 1, EncodingGSM7},

		// GSM-7: 160 in one segment, then parts of 153.
		{"160", r("a", 160), 1, EncodingGSM7},
		{"161", r("a", 161), 2, EncodingGSM7},
		{"306", r("a", 306), 2, EncodingGSM7},
		{"307", r("a", 307), 3, EncodingGSM7},
		{"459", r("a", 459), 3, EncodingGSM7},
		{"460", r("a", 460), 4, EncodingGSM7},

		// Extension characters count twice.
		{"80 euro", r("€", 80), 1, EncodingGSM7},
		{"81 euro", r("€", 81), 2, EncodingGSM7},
		{"extension set", r("^{}\\[~]|€\f", 8), 1, EncodingGSM7}, // 10 × 8 × 2 = 160 septets
		{"extension set and one", r("^{}\\[~]|€\f", 8) + "a", 2, EncodingGSM7},
		// An escape sequence is not split across parts: 152 + (2) + 152
		// septets is 306, but takes three parts.
		{"escape at a part boundary", r("a", 152) + "€" + r("a", 152), 3, EncodingGSM7},
		{"escape inside a part", r("a", 151) + "€" + r("a", 153), 2, EncodingGSM7},

		// One character outside the alphabet makes all of it UCS-2.
		{"curly apostrophe", "It’s here", 1, EncodingUCS2},
		{"150 GSM-7 and a curly apostrophe", r("a", 149) + "’", 3, EncodingUCS2},
		{"escape character", "a\x1bb", 1, EncodingUCS2},
		{"lower-case c cedilla", "ç", 1, EncodingUCS2},

		// UCS-2: 70 in one segment, then parts of 67.
		{"70", r("ж", 70), 1, EncodingUCS2},
		{"71", r("ж", 71), 2, EncodingUCS2},
		{"134", r("ж", 134), 2, EncodingUCS2},
		{"135", r("ж", 135), 3, EncodingUCS2},
		{"201", r("ж", 201), 3, EncodingUCS2},
		{"202", r("ж", 202), 4, EncodingUCS2},

		// Emoji outside the BMP are surrogate pairs: two code units.
		{"35 emoji", r("😀", 35), 1, EncodingUCS2},
		{"36 emoji", r("😀", 36), 2, EncodingUCS2},
		{"66 emoji", r("😀", 66), 2, EncodingUCS2},                  // 33 pairs (66 units) per part
		{"67 emoji", r("😀", 67), 3, EncodingUCS2},                  // 134 units, yet 3 parts
		{"emoji in GSM-7 text", r("a", 69) + "😀", 2, EncodingUCS2}, // 71 units
		// A surrogate pair is not split across parts.
		{"pair at a part boundary", r("ж", 66) + "😀" + r("ж", 66), 3, EncodingUCS2},
		{"BMP symbol", r("✓", 70), 1, EncodingUCS2},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, enc := Segments(c.body)
			if n != c.n || enc != c.encoding {
				t.Errorf("Segments(%d characters) = %d, %s; want %d, %s", utf8.RuneCountInString(c.body), n, enc, c.n, c.encoding)
			}
		})
	}
}

func TestGSMAlphabet(t *testing.T) {
	if n := utf8.RuneCountInString(gsmBasic); n != 127 {
		t.Errorf("basic alphabet: %d characters, want 127 (128 less escape)", n)
	}
	if n := utf8.RuneCountInString(gsmExtension); n != 10 {
		t.Errorf("extension table: %d characters, want 10", n)
	}
	for _, r := range gsmExtension {
		if strings.ContainsRune(gsmBasic, r) {
			t.Errorf("%q in both tables", r)
		}
	}
}

// TestSMSMaxSegments checks max_segments at its boundary, with Render.
func TestSMSMaxSegments(t *testing.T) {
	tpl := mustParse(t, "id: s\nsms: {body: '{{ journey.text }}', max_segments: 2}\n")
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{strings.Repeat("a", 306), true},
		{strings.Repeat("a", 307), false},
		{strings.Repeat("ж", 134), true},
		{strings.Repeat("ж", 135), false},
	} {
		r, err := tpl.Render("sms", Vars{Journey: map[string]any{"text": c.text}})
		if (err == nil) != c.ok {
			t.Errorf("%d characters: %+v, %v", utf8.RuneCountInString(c.text), r.Segments, err)
		}
		if c.ok && r.Segments != 2 {
			t.Errorf("%d characters: %d segments", utf8.RuneCountInString(c.text), r.Segments)
		}
	}
}
