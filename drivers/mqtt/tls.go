package mqtt

import (
	"crypto/tls"
	"strings"

	"github.com/tbgw/tbgw/drivers/kit/tlsconf"
)

// tlsConfig builds the TLS settings of broker.security: nil for plain
// TCP. Type "certificates" (or a caCert key, as upstream) turns TLS on.
// The broker's certificate is verified against the CA when one is given,
// else against the system roots (upstream skips verification without a
// CA); "insecure" verifies the chain but not the host name, as upstream.
func tlsConfig(s *securityConf, host, dir string) (*tls.Config, error) {
	if !strings.EqualFold(s.Type, "certificates") && s.CACert == "" {
		return nil, nil
	}
	ca := s.PathToCACert
	if ca == "" {
		ca = s.CACert
	}
	o := tlsconf.Options{CAFile: ca, CertFile: s.PathToClientCert, KeyFile: s.PathToPrivateKey,
		ServerName: host, SkipHostname: s.Insecure, Dir: dir}
	o.Labels.CA, o.Labels.Cert, o.Labels.Key = "pathToCACert", "pathToClientCert", "pathToPrivateKey"
	return o.Client()
}
