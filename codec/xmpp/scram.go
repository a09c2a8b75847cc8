package xmpp

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Mechanisms this package implements, strongest first.
var Mechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}

// PlainResponse is the initial response of SASL PLAIN (RFC 4616).
func PlainResponse(user, password string) []byte {
	return []byte("\x00" + user + "\x00" + password)
}

// SCRAM is the client side of one SCRAM exchange.
type SCRAM struct {
	h          func() hash.Hash
	user, pass string
	cnonce     string

	clientFirstBare string
	serverSig       []byte
	step            int
}

// NewSCRAM starts a SCRAM-SHA-1 or SCRAM-SHA-256 exchange; cnonce is the
// client nonce (printable, no comma).
func NewSCRAM(mech, user, password, cnonce string) (*SCRAM, error) {
	s := &SCRAM{user: user, pass: password, cnonce: cnonce}
	switch mech {
	case "SCRAM-SHA-1":
		s.h = sha1.New
	case "SCRAM-SHA-256":
		s.h = sha256.New
	default:
		return nil, fmt.Errorf("sasl: %s is not a SCRAM mechanism", mech)
	}
	if cnonce == "" || strings.ContainsAny(cnonce, ",") {
		return nil, errors.New("sasl: bad client nonce")
	}
	return s, nil
}

func escapeName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// Start returns the client-first message.
func (s *SCRAM) Start() []byte {
	s.clientFirstBare = "n=" + escapeName(s.user) + ",r=" + s.cnonce
	s.step = 1
	return []byte("n,," + s.clientFirstBare)
}

func (s *SCRAM) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Next takes the server-first message and returns the client-final one.
func (s *SCRAM) Next(serverFirst []byte) ([]byte, error) {
	if s.step != 1 {
		return nil, errors.New("sasl: SCRAM out of order")
	}
	s.step = 2
	attrs := map[byte]string{}
	for _, f := range strings.Split(string(serverFirst), ",") {
		if len(f) < 2 || f[1] != '=' {
			return nil, errors.New("sasl: malformed server-first message")
		}
		attrs[f[0]] = f[2:]
	}
	if _, ok := attrs['m']; ok {
		return nil, errors.New("sasl: server requires an unsupported SCRAM extension")
	}
	nonce, salt64, iter := attrs['r'], attrs['s'], attrs['i']
	if !strings.HasPrefix(nonce, s.cnonce) || len(nonce) == len(s.cnonce) {
		return nil, errors.New("sasl: server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("sasl: bad salt")
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 || n > 1_000_000 {
		return nil, errors.New("sasl: bad iteration count")
	}
	salted, err := pbkdf2.Key(s.h, s.pass, salt, n, s.h().Size())
	if err != nil {
		return nil, fmt.Errorf("sasl: %w", err)
	}
	clientKey := s.hmac(salted, "Client Key")
	hs := s.h()
	hs.Write(clientKey)
	stored := hs.Sum(nil)
	withoutProof := "c=biws,r=" + nonce
	authMsg := s.clientFirstBare + "," + string(serverFirst) + "," + withoutProof
	sig := s.hmac(stored, authMsg)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	s.serverSig = s.hmac(s.hmac(salted, "Server Key"), authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final message (the server's proof that it
// knows the password too).
func (s *SCRAM) Verify(serverFinal []byte) error {
	if s.step != 2 {
		return errors.New("sasl: SCRAM out of order")
	}
	s.step = 3
	f := string(serverFinal)
	if strings.HasPrefix(f, "e=") {
		return fmt.Errorf("sasl: server error %s", f[2:])
	}
	v, ok := strings.CutPrefix(f, "v=")
	if !ok {
		return errors.New("sasl: malformed server-final message")
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil || subtle.ConstantTimeCompare(got, s.serverSig) != 1 {
		return errors.New("sasl: the server's signature is wrong (server does not know the password)")
	}
	return nil
}
