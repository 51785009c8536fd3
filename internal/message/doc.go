// Package message renders what a journey's send step says: message
// templates, written in Liquid (github.com/osteele/liquid), with content
// for each channel a message may go out on.
//
// One template is one file (YAML or JSON; schema/template.schema.json
// describes it), with content for at least one channel:
//
//	id: cart-reminder
//	description: Reminds a customer of the cart they left.
//	email:
//	  subject: "{{ profile.traits.first_name | default: 'Hello' }}, your cart is waiting"
//	  html: "<p>Hi {{ profile.traits.first_name | escape }}</p>"   # html, text or both
//	  text: "Hi {{ profile.traits.first_name }}"
//	sms:
//	  body: "Your cart is saved: {{ event.properties.url }}"
//	  max_segments: 2                  # default 3
//	mms: {body: "...", media_url: "https://..."}
//	push: {title: "...", body: "...", deep_link: "shop://cart"}
//	voice: {script: "Hello {{ profile.traits.first_name }}..."}  # or {ivr_flow: flow-id}
//	webhook: {body: '{"cart": {{ journey.cart_id | json }}}'}      # also chat and whatsapp
//	sample:                            # merged over SampleVars for Check
//	  event: {properties: {coupon: SPRING}}
//
// Every field is a Liquid template over four variables (Vars): profile
// (the customer: traits, consent, counts, computed...), event (the event
// that triggered the journey), journey (the instance's variables) and
// offer (the offer the step carries, or nil). Rendered fields are trimmed
// of surrounding white space.
//
// The package is pure: apart from Load reading files, no I/O, no clock
// reads and no goroutines; a Template is immutable and safe for
// concurrent use.
//
// # Strictness
//
// A typo in a template is found when it is applied, not when a customer
// gets the message. Parse compiles every field and finds what is wrong
// whatever the data: a Liquid syntax error, a variable that is none of
// the four (`{{ profil.traits.name }}`) nor one the template assigns, a
// filter that does not exist (`{{ x | upcase2 }}`), an include (a
// template is one file). Check then renders every field with sample data
// (SampleVars, with what the template declares under sample: merged over
// it) in which a missing key is an error, so `{{ profile.traits.nme }}`
// fails too, as does a rendered field its channel cannot send. Each
// problem is reported at its line in the file, naming the template and
// the field. Render, with a real customer's data, is lenient: a missing
// value renders as nothing, so that a customer without a first name
// still gets the message (`default` gives a fallback).
//
// Liquid does not escape HTML. Output what customers can set through the
// escape filter in email html (`{{ profile.traits.name | escape }}`),
// and through the json filter in a JSON body (`{{ profile.traits.name |
// json }}` is a quoted, escaped JSON string).
//
// # Channels
//
// An SMS body is counted in segments (Segments): GSM-7 when every
// character is in the GSM 03.38 alphabet (its extension characters, such
// as € and [ ], count twice), else UCS-2 (an emoji outside the Basic
// Multilingual Plane counts twice). One segment holds 160 GSM-7
// characters or 70 UCS-2 code units; a longer message is sent in parts of
// 153 or 67. A body that renders to more than max_segments segments is an
// error: one curly apostrophe turns a 150-character GSM-7 message into
// three UCS-2 segments. A webhook, chat or whatsapp body must render to
// valid JSON; an mms media_url to an absolute http or https URL; a
// required field (email subject, sms and push body, voice script or
// ivr_flow) to something.
package message
