package httpout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tbgw/tbgw/codec/tmpl"
)

func str(s string) *string { return &s }

func TestRenderAndSend(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		got.Store(fmt.Sprintf("%s %s %s %s:%s %s", r.Method, r.URL.EscapedPath(), b, u, p, r.Header.Get("X-Test")))
		fmt.Fprint(w, `{"temp":{"v":21.5},"ok":true}`)
	}))
	defer srv.Close()
	tries := 2
	c, err := Compile(&Spec{
		DeviceNameFilter: "SN.*", AttributeFilter: "fw|hw",
		RequestURLExpression:   "dev/${deviceName}/${attributeKey}/${attributeValue}",
		RequestValueExpression: str(`{"${attributeKey}":"${attributeValue}","d":"${deviceName}"}`),
		HTTPHeaders:            map[string]string{"X-Test": "yes"}, Tries: &tries,
	}, "attributeFilter", Options{Base: srv.URL + "/", Method: "POST", Auth: &Security{Type: "basic", Username: "u", Password: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.MatchAttribute("SN 1/2", "fw") || c.MatchAttribute("XSN", "fw") || c.MatchAttribute("SN1", "fwx") {
		t.Fatal("filters are full matches")
	}
	res, err := c.Do(context.Background(), &tmpl.Vars{Device: "SN 1/2", Key: "fw", Value: "a b"})
	if err != nil || !res.OK() {
		t.Fatal(err)
	}
	want := `POST /dev/SN%201%2F2/fw/a%20b {"fw":"a b","d":"SN 1/2"} u:p yes`
	if g := got.Load().(string); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
	// Response values.
	c2, err := Compile(&Spec{RequestURLExpression: srv.URL, ResponseValueExpression: "${temp.v} C"}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c2.Value(res); err != nil || v != "21.5 C" {
		t.Fatalf("value %v %v", v, err)
	}
	c3, _ := Compile(&Spec{RequestURLExpression: srv.URL, ResponseValueExpression: "${nothing}"}, "", Options{})
	if _, err := c3.Value(res); err == nil {
		t.Fatal("unresolved response expression: no error")
	}
	c4, _ := Compile(&Spec{RequestURLExpression: srv.URL}, "", Options{})
	if v, _ := c4.Value(&Result{Body: []byte("plain")}); v != "plain" {
		t.Fatalf("text answer %v", v)
	}
	if v, _ := c4.Value(res); string(v.(json.RawMessage)) != `{"temp":{"v":21.5},"ok":true}` {
		t.Fatalf("JSON answer %s", v)
	}
}

func TestTriesAndLimits(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if n.Add(1) < 3 {
				http.Error(w, "busy", 503)
				return
			}
			fmt.Fprint(w, "ok")
		case "/big":
			fmt.Fprint(w, strings.Repeat("x", 2000))
		default:
			http.Error(w, "gone", 404)
		}
	}))
	defer srv.Close()
	tries := 3
	c, err := Compile(&Spec{RequestURLExpression: srv.URL + "/flaky", Tries: &tries}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(context.Background(), &tmpl.Vars{})
	if err != nil || string(res.Body) != "ok" || n.Load() != 3 {
		t.Fatalf("%v %v after %d tries", res, err, n.Load())
	}
	// 4xx is an answer, not retried.
	c404, _ := Compile(&Spec{RequestURLExpression: srv.URL + "/none", Tries: &tries}, "", Options{})
	if res, err := c404.Do(context.Background(), &tmpl.Vars{}); err != nil || res.Status != 404 {
		t.Fatalf("404: %v %v", res, err)
	}
	big, _ := Compile(&Spec{RequestURLExpression: srv.URL + "/big"}, "", Options{MaxResponse: 1000})
	if _, err := big.Do(context.Background(), &tmpl.Vars{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized answer: %v", err)
	}
	// A missing client certificate fails the call, not the configuration.
	cert, err := Compile(&Spec{RequestURLExpression: srv.URL, Security: &Security{Type: "cert", Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem"}}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Do(context.Background(), &tmpl.Vars{}); err == nil {
		t.Fatal("call with a missing certificate succeeded")
	}
	if _, err := Compile(&Spec{RequestURLExpression: "rel/x"}, "", Options{}); err != nil {
		t.Fatal(err)
	}
	rel, _ := Compile(&Spec{RequestURLExpression: "rel/x"}, "", Options{})
	if _, err := rel.Do(context.Background(), &tmpl.Vars{}); err == nil {
		t.Fatal("relative URL without a base: no error")
	}
}

func TestFromParams(t *testing.T) {
	m := map[string]string{"url": "http://h/x", "HTTPMethod": "put", "value": "1;2", "timeout": "0.5", "tries": "2", "httpHeaders": `{"A":"b"}`}
	s, err := FromParams(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(&s, "", Options{})
	if err != nil || c.Method() != "PUT" || c.tries != 2 || c.timeout.Seconds() != 0.5 || c.header.Get("A") != "b" || *s.RequestValueExpression != "1;2" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []map[string]string{{"HTTPMethod": "GET"}, {"url": "x", "tries": "0"}, {"url": "x", "timeout": "soon"}, {"url": "x", "httpHeaders": "[1]"}} {
		if _, err := FromParams(func(k string) (string, bool) { v, ok := bad[k]; return v, ok }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSharedTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	tr := &Transports{MaxIdlePerHost: 2}
	var calls []*Call
	for i := range 50 {
		c, err := Compile(&Spec{RequestURLExpression: fmt.Sprintf("%s/%d", srv.URL, i)}, "", Options{Transports: tr})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do(context.Background(), &tmpl.Vars{}); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	if len(tr.m) != 1 {
		t.Fatalf("%d pools for one TLS setting", len(tr.m))
	}
	tr.CloseIdle()
}
