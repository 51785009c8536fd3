// Package track turns what happens to a sent message into events on the
// customer's timeline: delivery receipts (message_delivered,
// message_failed), email engagement (message_opened, message_clicked) and
// SMS replies (message_replied, with STOP revoking SMS consent).
//
// A Signer makes the signed links a message carries: the open pixel, the
// click redirects (Rewrite puts both into an HTML body) and the receipt
// URL a provider posts delivery status to. Each token carries the Ref of
// the message it was made for, so the event it becomes names the journey,
// version, step, channel and offer learning needs.
//
// The package is pure: tokens, HTML rewriting, the mapping of provider
// statuses and the construction of events. The HTTP edge (internal/api)
// verifies requests and submits the events; time always comes from the
// caller.
package track
