package deliver

import (
	"net/http"
	"time"
)

// HTTPClient returns the client an HTTP connector uses: timeout per call,
// redirects not followed (a provider that redirects is misconfigured, and
// a redirect must not carry credentials elsewhere), and a connection pool
// that keeps enough idle keep-alive connections for the dispatcher's
// concurrent attempts (net/http's default keeps two per host, so more
// concurrent attempts would open and close connections all the time).
func HTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{
		Timeout:       timeout,
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
