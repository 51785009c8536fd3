package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/track"
)

// maxReceiptBody bounds a status callback or inbound SMS webhook body.
const maxReceiptBody = 64 << 10

// pixelGIF is a 1×1 transparent GIF.
var pixelGIF = []byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, // header, 1×1, 2-colour table
	0, 0, 0, 0xff, 0xff, 0xff, // the colour table
	0x21, 0xf9, 4, 1, 0, 0, 0, 0, // graphic control: colour 0 transparent
	0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, // image descriptor
	2, 2, 0x44, 1, 0, // the pixel, LZW
	0x3b, // trailer
}

// emptyTwiML answers a Twilio webhook without sending anything back.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// public wraps a handler of the engagement routes: they are not behind
// the admin token (a signed token or Twilio's signature authenticates
// them) and answer errors as JSON.
func (s *Server) public(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if core.ErrorCode(err) == core.EINTERNAL {
				s.Logger.Error("engagement request failed", "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	})
}

// record submits events and waits until they are in the log. A failure
// is EUNAVAILABLE: nothing was acknowledged and the sender may retry (the
// events' message ids make that safe).
func (s *Server) record(ctx context.Context, evs ...*core.Event) error {
	if s.Committer == nil {
		return core.Errorf(core.EUNAVAILABLE, "", "the event log is not available")
	}
	if err := s.Committer.Submit(ctx, evs); err != nil {
		s.Logger.Warn("recording engagement failed", "event", evs[0].Event, "messageId", evs[0].MessageID, "err", err)
		return core.Errorf(core.EUNAVAILABLE, "", "the event could not be written; retry")
	}
	return nil
}

// openPixel answers GET /t/o/{token}.gif: always the 1×1 GIF, so a mail
// client shows nothing broken; a valid token also records
// message_opened (once per message: its message id dedupes re-opens).
// A HEAD request records nothing.
func (s *Server) openPixel(w http.ResponseWriter, r *http.Request) {
	if s.Tracking != nil && r.Method == http.MethodGet {
		if ref, err := s.Tracking.VerifyOpen(strings.TrimSuffix(r.PathValue("token"), ".gif")); err == nil {
			// A lost open is not worth a broken image: the error is logged
			// by record and the pixel answered.
			_ = s.record(r.Context(), track.Opened(ref, s.Clock.Now()))
		}
	}
	h := w.Header()
	h.Set("Content-Type", "image/gif")
	h.Set("Content-Length", strconv.Itoa(len(pixelGIF)))
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(pixelGIF)
	}
}

// click answers GET /t/c/{token}: records message_clicked and redirects
// (302) to the URL signed in the token; a bad token is a 400 and no
// redirect, so the route is never an open redirect. A HEAD request (a
// link checker's) redirects without recording.
func (s *Server) click(w http.ResponseWriter, r *http.Request) error {
	if s.Tracking == nil {
		return core.Errorf(core.EUNAVAILABLE, "", "click tracking is not configured")
	}
	ref, target, err := s.Tracking.VerifyClick(r.PathValue("token"))
	if err != nil {
		return core.Errorf(core.EINVALID, "token", "this link is not valid: it was changed or not made by this server")
	}
	// The person clicking goes on even if the click cannot be recorded
	// (record logs it): a 503 would lose the click all the same.
	if r.Method == http.MethodGet {
		_ = s.record(r.Context(), track.Clicked(ref, target, s.Clock.Now()))
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the token names the customer: keep it from the target site
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// receipt answers POST /v1/receipts/{token}, a delivery status callback:
// a Twilio form post (MessageStatus or CallStatus, ErrorCode, MessageSid
// or CallSid) or a JSON webhook receipt ({"status","reason","url"}).
// It answers 204 once the event is in the log (or when the status
// records nothing, such as Twilio's "sent").
func (s *Server) receipt(w http.ResponseWriter, r *http.Request) error {
	if s.Tracking == nil {
		return core.Errorf(core.EUNAVAILABLE, "", "receipts are not configured")
	}
	ref, err := s.Tracking.VerifyReceipt(r.PathValue("token"))
	if err != nil {
		return core.Errorf(core.EUNAUTHORIZED, "token", "the receipt URL's token is not valid")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReceiptBody)
	var rc track.Receipt
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return bodyError(err)
		}
		if rc, err = track.ParseWebhookReceipt(body); err != nil {
			return err
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return bodyError(err)
		}
		if rc, err = track.TwilioReceipt(r.PostForm); err != nil {
			return err
		}
	default:
		return core.Errorf(core.EUNSUPPORTED, "Content-Type", "a receipt is application/json or application/x-www-form-urlencoded")
	}
	if ev := rc.Event(ref, s.Clock.Now()); ev != nil {
		if err := s.record(r.Context(), ev); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// inboundTwilio answers POST /v1/inbound/twilio, an SMS to one of our
// numbers. The X-Twilio-Signature is checked against the public URL (the
// tracking base URL, then the path and query as received, so it holds
// behind a proxy). A reply from a known customer's phone becomes
// message_replied (STOP and START change SMS consent); one from an
// unknown number is logged and dropped. The answer is empty TwiML.
func (s *Server) inboundTwilio(w http.ResponseWriter, r *http.Request) error {
	if s.TwilioAuthToken == "" || s.Tracking == nil {
		return core.Errorf(core.EUNAVAILABLE, "", "inbound SMS is not configured: it needs the Twilio auth token and the public base URL")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReceiptBody)
	if err := r.ParseForm(); err != nil {
		return bodyError(err)
	}
	public := s.Tracking.BaseURL() + r.URL.RequestURI()
	if !track.ValidTwilioSignature(s.TwilioAuthToken, public, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
		s.Logger.Warn("inbound Twilio request with a bad signature", "url", public, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusForbidden, errorBody{errorDetail{Code: core.EUNAUTHORIZED, Field: "X-Twilio-Signature",
			Message: "the signature does not match the request (check the auth token and that the public base URL is the one Twilio calls)"}})
		return nil
	}
	f := r.PostForm
	from := core.NormalizePhone(f.Get("From"))
	if from == "" {
		return core.Errorf(core.EINVALID, "From", "From must be a phone number in E.164")
	}
	sid := f.Get("MessageSid")
	if sid == "" {
		sid = f.Get("SmsSid")
	}
	if sid == "" {
		return core.Errorf(core.EINVALID, "MessageSid", "MessageSid is required")
	}
	if _, err := s.resolveCustomer(r.Context(), core.KindPhone+":"+from); err != nil {
		if core.ErrorCode(err) != core.ENOTFOUND {
			return err
		}
		s.Logger.Info("inbound SMS from an unknown number dropped", "messageSid", sid)
	} else if err := s.record(r.Context(), track.Replied(from, f.Get("To"), f.Get("Body"), sid, s.Clock.Now())); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, emptyTwiML)
	return nil
}

// bodyError reports a body that could not be read.
func bodyError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return core.Errorf(core.ETOOLARGE, "body", "the body is over the %d-byte limit", maxReceiptBody)
	}
	return core.Errorf(core.EINVALID, "body", "reading the body: %v", err)
}
