package modbus

import (
	"github.com/tbgw/tbgw/drivers/kit/tlsconf"

	"crypto/tls"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
)

func (c *compiler) link(path string, cc *connConfig, server bool) (linkSpec, error) {
	var l linkSpec
	typ := strings.ToLower(strings.TrimSpace(cc.Type))
	if typ == "" {
		typ = "tcp"
	}
	method := strings.ToLower(strings.TrimSpace(cc.Method))
	switch method {
	case "socket", "tls":
		l.framing = framingMBAP
	case "rtu":
		l.framing = framingRTU
	case "ascii":
		l.framing = framingASCII
	case "":
		if !server {
			return l, c.errorf(path+".method", "required (socket, rtu, ascii or tls)")
		}
		if typ == "serial" {
			l.framing = framingRTU
		}
	default:
		return l, c.errorf(path+".method", "unknown method %q (socket, rtu, ascii or tls)", cc.Method)
	}
	port, err := c.port(path+".port", cc.Port, typ == "serial")
	if err != nil {
		return l, err
	}
	switch typ {
	case "tcp", "udp", "tls":
		if typ == "tls" && !server {
			return l, c.errorf(path+".type", "type tls is for the slave section; use tcp with a tls object")
		}
		host := cc.Host
		if host == "" {
			if !server {
				return l, c.errorf(path+".host", "required for type %s", typ)
			}
		}
		l.network = typ
		if typ == "tls" {
			l.network = "tcp"
		}
		l.addr = netJoin(host, port)
		if cc.TLS != nil && typ == "tcp" && !server {
			cfg, err := c.tlsClient(path+".tls", host, cc.TLS)
			if err != nil {
				return l, err
			}
			l.tls = cfg
		}
	case "serial":
		l.network, l.addr = "serial", port
		m := serialMode{baud: defaultBaud, dataBits: 8, parity: 'N', stopBits: 1}
		if cc.Baudrate != nil {
			if *cc.Baudrate <= 0 {
				return l, c.errorf(path+".baudrate", "must be positive")
			}
			m.baud = *cc.Baudrate
		}
		if cc.Bytesize != nil {
			if *cc.Bytesize < 5 || *cc.Bytesize > 8 {
				return l, c.errorf(path+".bytesize", "must be 5..8")
			}
			m.dataBits = *cc.Bytesize
		}
		if cc.Stopbits != nil {
			if s := *cc.Stopbits; s != 1 && s != 1.5 && s != 2 {
				return l, c.errorf(path+".stopbits", "must be 1, 1.5 or 2")
			}
			m.stopBits = *cc.Stopbits
		}
		if cc.Parity != "" {
			p := strings.ToUpper(strings.TrimSpace(cc.Parity))
			if len(p) != 1 || !strings.Contains("NEOMS", p) {
				return l, c.errorf(path+".parity", "must be N, E, O, M or S")
			}
			m.parity = p[0]
		}
		l.serial = m
		l.echo = cc.HandleLocalEcho
	default:
		return l, c.errorf(path+".type", "unknown type %q (tcp, udp or serial)", cc.Type)
	}
	l.key = l.network + "|" + l.addr
	return l, nil
}

func netJoin(host, port string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// port reads "port": a number for networks (a numeric string is
// accepted), the device path for serial lines.
func (c *compiler) port(path string, raw json.RawMessage, serial bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", c.errorf(path, "required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if serial {
			if s == "" {
				return "", c.errorf(path, "required: the serial device path")
			}
			return s, nil
		}
	} else {
		s = string(raw)
		if serial {
			return "", c.errorf(path, "wrong type: want the serial device path, got %s", s)
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 65535 {
		return "", c.errorf(path, "want a port number 0..65535, got %s", raw)
	}
	return strconv.Itoa(n), nil
}

func (c *compiler) file(name string) string {
	if name == "" || filepath.IsAbs(name) || c.configDir == "" {
		return name
	}
	return filepath.Join(c.configDir, name)
}

// tlsClient builds the client TLS configuration. Unlike upstream
// (pymodbus' generate_ssl, which never checks the server), the server's
// certificate is verified against cafile, or the system roots without
// one; "insecure": true restores upstream's unchecked connection.
// certfile/keyfile present a client certificate, password decrypts a
// legacy encrypted PEM key.
func (c *compiler) tlsClient(path, host string, t *tlsConfig) (*tls.Config, error) {
	o := tlsconf.Options{CAFile: t.Cafile, CertFile: t.Certfile, KeyFile: t.Keyfile, KeyPassword: t.Password,
		ServerName: host, Insecure: t.Insecure, Dir: c.configDir}
	o.Labels.CA, o.Labels.Cert, o.Labels.Key = "cafile", "certfile", "keyfile"
	cfg, err := o.Client()
	if err != nil {
		return nil, c.errorf(path, "%v", err)
	}
	return cfg, nil
}
