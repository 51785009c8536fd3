package message

// The encodings of an SMS body.
const (
	EncodingGSM7 = "GSM-7" // the GSM 03.38 default alphabet: 7-bit septets
	EncodingUCS2 = "UCS-2" // anything else: UTF-16 code units
)

// gsmBasic is the GSM 03.38 default alphabet (each character one
// septet), escape (0x1B) left out; gsmExtension is its extension table
// (each character two septets: the escape and the character).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

var gsmWidth = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// Segment sizes: a message that fits in one segment may use all of it; a
// longer one is split into parts that each give up room to the
// concatenation header (6 bytes: 7 septets, or 3 UTF-16 code units).
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// Segments returns how many SMS segments body takes and in which
// encoding it goes: GSM-7 if every character is in the GSM 03.38
// alphabet (those of its extension table, such as € [ ] { } ^ ~ | \,
// count twice), else UCS-2, where a character outside the Basic
// Multilingual Plane (most emoji) counts twice, as a surrogate pair. One
// segment holds 160 GSM-7 characters or 70 UCS-2 code units; a longer
// body is split into parts of 153 or 67, and an extension character or
// a surrogate pair is never split across two parts. An empty body takes
// 0 segments.
func Segments(body string) (n int, encoding string) {
	n, _, encoding = segments(body)
	return n, encoding
}

// segments is Segments, with the length of body in septets or code
// units.
func segments(body string) (n, units int, encoding string) {
	gsm := true
	for _, r := range body {
		if gsmWidth[r] == 0 {
			gsm = false
			break
		}
	}
	width := func(r rune) int {
		if gsm {
			return gsmWidth[r]
		}
		if r > 0xFFFF {
			return 2
		}
		return 1
	}
	single, part := gsmSingle, gsmPart
	encoding = EncodingGSM7
	if !gsm {
		single, part, encoding = ucs2Single, ucs2Part, EncodingUCS2
	}
	for _, r := range body {
		units += width(r)
	}
	switch {
	case units == 0:
		return 0, 0, encoding
	case units <= single:
		return 1, units, encoding
	}
	n, room := 1, part
	for _, r := range body {
		w := width(r)
		if w > room {
			n, room = n+1, part
		}
		room -= w
	}
	return n, units, encoding
}
