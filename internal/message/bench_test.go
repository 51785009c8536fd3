package message

import (
	"os"
	"testing"
)

// BenchmarkRenderEmail renders the cart reminder email (subject, html
// with a loop over the items and an offer, text).
func BenchmarkRenderEmail(b *testing.B) {
	data, err := os.ReadFile("../../examples/journeys/templates/cart-reminder.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := Parse("cart-reminder.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	vars := SampleVars()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(ChannelEmail, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderSMS renders a one-line SMS and counts its segments.
func BenchmarkRenderSMS(b *testing.B) {
	tpl := mustParse(b, "id: s\nsms: {body: 'Hi {{ profile.traits.first_name }}, your cart ({{ event.properties.total }} {{ event.properties.currency }}) is saved: {{ event.properties.url }}'}\n")
	vars := SampleVars()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(ChannelSMS, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCheck parses and checks the cart reminder, as apply does.
func BenchmarkParseCheck(b *testing.B) {
	data, err := os.ReadFile("../../examples/journeys/templates/cart-reminder.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tpl, err := Parse("cart-reminder.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if err := tpl.Check(SampleVars()); err != nil {
			b.Fatal(err)
		}
	}
}
