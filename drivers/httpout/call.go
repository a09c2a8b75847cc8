package httpout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/jpath"
	"github.com/tbgw/tbgw/codec/pyre"
	"github.com/tbgw/tbgw/codec/tmpl"
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"
)

// Options are the connector-level settings of calls.
type Options struct {
	// Base is prepended to URLs that do not start with http:// or
	// https:// (the Request connector's "host"); "" makes such URLs an
	// error.
	Base string
	// Verify is the default of SSLVerify for entries that do not set it.
	Verify bool
	// Auth applies to entries without their own "security".
	Auth *Security
	// MaxResponse caps a response body; 0: 1 MiB.
	MaxResponse int64
	// ConfigDir resolves relative certificate file names.
	ConfigDir string
	// Method is the default HTTP method; "" is GET.
	Method string
	// Body is the default body template of entries without one; "" none.
	Body string
	// Transports, when set, shares connection pools among the calls with
	// the same TLS settings; otherwise each call has its own.
	Transports *Transports
	// Converter is the connector's downlink converter convention
	// ("rest-downlink": the entry's "extension"; "request-downlink": its
	// "converter"); "" takes no converter classes.
	Converter string
	// Warn, when set, reports a converter class that nothing provides
	// (no Go converter, no Python extension host): the entry's templates
	// are used then. Without Warn that is an error.
	Warn func(key, msg string)
}

// Transports shares HTTP connection pools (one per TLS setting) among
// calls, so that a thousand polled URLs on a few hosts keep a few
// connections, not a thousand. It is safe for concurrent use.
type Transports struct {
	// MaxIdlePerHost bounds the idle connections kept per host; default 4.
	MaxIdlePerHost int

	mu sync.Mutex
	m  map[tlsconf.Options]*http.Transport
}

func (t *Transports) get(o tlsconf.Options) (*http.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, ok := t.m[o]; ok {
		return tr, nil
	}
	tr, err := newTransport(o, max(t.MaxIdlePerHost, 1))
	if err != nil {
		return nil, err
	}
	if t.m == nil {
		t.m = map[tlsconf.Options]*http.Transport{}
	}
	t.m[o] = tr
	return tr, nil
}

// CloseIdle closes the idle connections of every pool.
func (t *Transports) CloseIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.m {
		tr.CloseIdleConnections()
	}
}

func newTransport(o tlsconf.Options, idle int) (*http.Transport, error) {
	tc, err := o.Client()
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           4 * idle,
		MaxIdleConnsPerHost:    idle,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}, nil
}

// Call is one compiled outgoing request. It is safe for concurrent use.
type Call struct {
	device    *pyre.Regex
	filter    *pyre.Regex // attributeFilter or methodFilter
	method    string
	url       *tmpl.Template
	body      *tmpl.Template
	resp      *tmpl.Template
	header    http.Header
	timeout   time.Duration
	respWait  time.Duration
	tries     int
	base      string
	maxResp   int64
	auth      string // Authorization header value
	redirects bool
	conv      codec.CallDownlink // the entry's downlink converter class, nil for the templates
	entry     json.RawMessage    // the entry as written, for conv

	clientOnce sync.Once
	client     *http.Client
	clientErr  error
	tlsOpts    tlsconf.Options
	shared     *Transports
	own        *http.Transport
}

// Error is a configuration problem of one key of a Spec.
type Error struct{ Key, Msg string }

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

// Compile checks and compiles s. filterKey names the filter of its kind:
// "attributeFilter", "methodFilter" or "" (reserved RPC, no filters).
func Compile(s *Spec, filterKey string, o Options) (*Call, error) {
	c := &Call{tries: 1, timeout: 10 * time.Second, maxResp: o.MaxResponse, base: strings.TrimRight(o.Base, "/"), shared: o.Transports}
	if c.maxResp <= 0 {
		c.maxResp = 1 << 20
	}
	var err error
	if filterKey != "" {
		df := s.DeviceNameFilter
		if df == "" {
			df = ".*"
		}
		if c.device, err = pyre.Compile(df); err != nil {
			return nil, &Error{"deviceNameFilter", err.Error()}
		}
		f := s.AttributeFilter
		if filterKey == "methodFilter" {
			f = s.MethodFilter
		}
		if f == "" {
			return nil, &Error{filterKey, "required"}
		}
		if c.filter, err = pyre.Compile(f); err != nil {
			return nil, &Error{filterKey, err.Error()}
		}
	}
	if err := c.converter(s, o); err != nil {
		return nil, err
	}
	if s.RequestURLExpression == "" && c.conv == nil {
		return nil, &Error{"requestUrlExpression", "required"}
	}
	if c.url, err = tmpl.Compile(s.RequestURLExpression); err != nil {
		return nil, &Error{"requestUrlExpression", err.Error()}
	}
	body, bodyKey := o.Body, "requestValueExpression"
	if s.RequestValueExpression != nil {
		body = *s.RequestValueExpression
	} else if s.ValueExpression != nil {
		body, bodyKey = *s.ValueExpression, "valueExpression"
	}
	if body != "" {
		if c.body, err = tmpl.Compile(body); err != nil {
			return nil, &Error{bodyKey, err.Error()}
		}
	}
	if s.ResponseValueExpression != "" {
		if c.resp, err = tmpl.Compile(s.ResponseValueExpression); err != nil {
			return nil, &Error{"responseValueExpression", err.Error()}
		}
	}
	c.method = strings.ToUpper(strings.TrimSpace(s.HTTPMethod))
	if c.method == "" {
		c.method = strings.ToUpper(strings.TrimSpace(s.HTTPMethodUpper))
	}
	if c.method == "" {
		c.method = strings.ToUpper(o.Method)
	}
	if c.method == "" {
		c.method = http.MethodGet
	}
	switch c.method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
	default:
		return nil, &Error{"httpMethod", fmt.Sprintf("unknown method %q", c.method)}
	}
	c.header = http.Header{}
	for k, v := range s.HTTPHeaders {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, &Error{"httpHeaders", fmt.Sprintf("bad header %q", k)}
		}
		c.header.Set(k, v)
	}
	if !s.Timeout.Valid() {
		return nil, &Error{"timeout", "want a number of seconds"}
	}
	if !s.ResponseTimeout.Valid() {
		return nil, &Error{"responseTimeout", "want a number of seconds"}
	}
	if s.Timeout != nil && *s.Timeout > 0 {
		c.timeout = time.Duration(float64(*s.Timeout) * float64(time.Second))
	}
	if s.ResponseTimeout != nil && *s.ResponseTimeout > 0 {
		c.respWait = time.Duration(float64(*s.ResponseTimeout) * float64(time.Second))
	}
	if s.Tries != nil {
		if *s.Tries < 1 || *s.Tries > 10 {
			return nil, &Error{"tries", "want 1 to 10"}
		}
		c.tries = *s.Tries
	}
	c.redirects = s.AllowRedirects != nil && *s.AllowRedirects
	verify := o.Verify
	if s.SSLVerify != nil {
		verify = *s.SSLVerify
	}
	c.tlsOpts.Insecure = !verify
	c.tlsOpts.Dir = o.ConfigDir
	sec := s.Security
	if sec == nil {
		sec = o.Auth
	}
	if sec != nil {
		switch strings.ToLower(sec.Type) {
		case "", "anonymous":
		case "basic":
			if sec.Username == "" {
				return nil, &Error{"security.username", "required for basic authentication"}
			}
			c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(sec.Username+":"+sec.Password))
		case "cert":
			if sec.Cert == "" || sec.Key == "" {
				return nil, &Error{"security", "cert and key are required for certificate authentication"}
			}
			c.tlsOpts.CertFile, c.tlsOpts.KeyFile = sec.Cert, sec.Key
		default:
			return nil, &Error{"security.type", fmt.Sprintf("unknown type %q (want anonymous, basic or cert)", sec.Type)}
		}
		c.tlsOpts.CAFile = sec.CACert
	}
	return c, nil
}

// MatchAttribute reports whether the entry applies to attribute key of
// device.
func (c *Call) MatchAttribute(device, key string) bool {
	return c.device != nil && c.device.FullMatch(device) && c.filter.FullMatch(key)
}

// MatchRPC reports whether the entry applies to method of device.
func (c *Call) MatchRPC(device, method string) bool {
	return c.device != nil && c.device.FullMatch(device) && c.filter.FullMatch(method)
}

// ResponseTimeout is the entry's responseTimeout (0: not set).
func (c *Call) ResponseTimeout() time.Duration { return c.respWait }

// Method is the HTTP method.
func (c *Call) Method() string { return c.method }

// httpClient builds the entry's client on first use, so that a missing
// certificate file fails the calls that need it, not the configuration.
func (c *Call) httpClient() (*http.Client, error) {
	c.clientOnce.Do(func() {
		var tr *http.Transport
		if c.shared != nil {
			tr, c.clientErr = c.shared.get(c.tlsOpts)
		} else {
			tr, c.clientErr = newTransport(c.tlsOpts, 4)
			c.own = tr
		}
		if c.clientErr != nil {
			return
		}
		c.client = &http.Client{Transport: tr}
		if !c.redirects {
			c.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		}
	})
	return c.client, c.clientErr
}

// Close drops the idle connections of the call's own pool (shared pools
// are closed by their owner).
func (c *Call) Close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// Result is a response.
type Result struct {
	URL    string
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// URL renders the entry's URL for v, values percent-escaped.
func (c *Call) URL(v *tmpl.Vars) (string, error) {
	esc := *v
	esc.Device = url.PathEscape(v.Device)
	esc.Key = url.PathEscape(v.Key)
	if v.Value != nil {
		esc.Value = url.PathEscape(tmpl.FormatValue(v.Value))
	}
	return c.join(c.url.Topic(&esc))
}

func (c *Call) join(u string) (string, error) {
	low := strings.ToLower(u)
	if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
		if c.base == "" {
			return "", fmt.Errorf("URL %q is relative and there is no host to resolve it against", u)
		}
		u = c.base + "/" + strings.TrimLeft(u, "/")
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	if p.Host == "" {
		return "", fmt.Errorf("URL %q has no host", u)
	}
	return p.String(), nil
}

// Body renders the entry's body for v ("" when it has none).
func (c *Call) Body(v *tmpl.Vars) string {
	if c.body == nil {
		return ""
	}
	return c.body.Topic(v)
}

// Do renders and sends the request, trying up to the entry's tries on
// transport errors and 5xx answers, each try bounded by its timeout.
func (c *Call) Do(ctx context.Context, v *tmpl.Vars) (*Result, error) {
	if c.conv != nil {
		return c.doConverted(ctx, v)
	}
	u, err := c.URL(v)
	if err != nil {
		return nil, err
	}
	return c.Send(ctx, u, c.Body(v))
}

// Send sends body to u with the entry's method, headers and limits.
func (c *Call) Send(ctx context.Context, u, body string) (*Result, error) {
	return c.send(ctx, c.method, u, body)
}

func (c *Call) send(ctx context.Context, method, u, body string) (*Result, error) {
	cl, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	var last error
	for try := 0; try < c.tries; try++ {
		if try > 0 {
			t := time.NewTimer(time.Duration(try) * 200 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, errors.Join(last, ctx.Err())
			case <-t.C:
			}
		}
		r, err := c.once(ctx, cl, method, u, body)
		if err == nil && r.Status < 500 {
			return r, nil
		}
		if err == nil {
			if try == c.tries-1 {
				return r, nil
			}
			err = fmt.Errorf("%s %s: %s", method, u, http.StatusText(r.Status))
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func (c *Call) once(ctx context.Context, cl *http.Client, method, u, body string) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := ReadLimited(resp.Body, c.maxResp)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	return &Result{URL: u, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// ErrTooLarge is returned for a body over its cap.
var ErrTooLarge = errors.New("body larger than the configured limit")

// ReadLimited reads r up to max bytes; more is ErrTooLarge.
func ReadLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
	}
	return b, nil
}

// Value is the RPC answer of a response: with a responseValueExpression,
// that template rendered over the JSON body (an error when none of its
// placeholders resolve); otherwise the JSON body as is, or the body as
// text when it is not JSON.
func (c *Call) Value(r *Result) (any, error) {
	d, err := jpath.Parse(r.Body)
	if err != nil {
		return string(r.Body), nil
	}
	if c.resp == nil {
		return json.RawMessage(d.AppendCompact(nil, d.Root())), nil
	}
	b, missing := c.resp.Append(nil, d, d.Root(), tmpl.MissingKeep)
	if c.resp.NumVars() > 0 && missing == c.resp.NumVars() {
		return nil, fmt.Errorf("responseValueExpression %q matches nothing in the response", c.resp.String())
	}
	return string(b), nil
}
