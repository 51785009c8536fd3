package message_test

import (
	"fmt"

	"github.com/overture-cjo/overture/internal/message"
)

func Example() {
	tpl, err := message.Parse("cart-reminder.yaml", []byte(`
id: cart-reminder
email:
  subject: "{{ profile.traits.first_name }}, your cart is waiting"
  html: "<p>Hi {{ profile.traits.first_name | escape }}, {{ offer.name | escape }}</p>"
sms:
  body: "Hi {{ profile.traits.first_name }}, your cart ({{ event.properties.total }} {{ event.properties.currency }}) is saved."
webhook:
  body: '{"customer": {{ profile.id | json }}, "cart": {{ journey.cart_id | json }}}'
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// At apply time: render every channel with sample data, strictly.
	if err := tpl.Check(message.SampleVars()); err != nil {
		fmt.Println(err)
		return
	}

	vars := message.Vars{
		Profile: map[string]any{"id": "p-1", "traits": map[string]any{"first_name": "Zoë & Jo"}},
		Event:   map[string]any{"properties": map[string]any{"total": 42.5, "currency": "EUR"}},
		Journey: map[string]any{"cart_id": "c-9"},
		Offer:   map[string]any{"id": "free-shipping", "name": "Free shipping"},
	}
	email, _ := tpl.Render("email", vars)
	fmt.Println(email.Subject)
	fmt.Println(email.HTML)
	sms, _ := tpl.Render("sms", vars)
	fmt.Println(sms.Body, "-", sms.Segments, "segment,", sms.Encoding)
	hook, _ := tpl.Render("webhook", vars)
	fmt.Println(string(hook.JSON))

	// A typo is found by Parse, or by Check against the sample data.
	_, err = message.Parse("typo.yaml", []byte(`{"id": "typo", "sms": {"body": "Hi {{ profil.traits.name }}"}}`))
	fmt.Println(err)
	typo, _ := message.Parse("typo.yaml", []byte(`{"id": "typo", "sms": {"body": "Hi {{ profile.traits.nme }}"}}`))
	fmt.Println(typo.Check(message.SampleVars()))
	// Output:
	// Zoë & Jo, your cart is waiting
	// <p>Hi Zoë &amp; Jo, Free shipping</p>
	// Hi Zoë & Jo, your cart (42.5 EUR) is saved. - 1 segment, UCS-2
	// {"customer": "p-1", "cart": "c-9"}
	// typo.yaml:1:39: sms.body: undefined variable "profil": a template sees profile, event, journey and offer (did you mean profile?)
	// typo.yaml:1:54: sms.body: undefined variable profile.traits.nme (did you mean profile.traits.name?) (template typo, with sample data)
}

func ExampleSegments() {
	for _, body := range []string{
		"Your code is 1234",
		"Price: 10€ [incl. VAT]", // € [ ] take two septets each
		"Your code is 1234 🔑",    // an emoji makes it UCS-2
	} {
		n, enc := message.Segments(body)
		fmt.Println(n, enc)
	}
	// Output:
	// 1 GSM-7
	// 1 GSM-7
	// 1 UCS-2
}
