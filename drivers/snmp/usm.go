package snmp

import (
	"encoding/hex"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/tbgw/tbgw/codec/conf"
)

// usmUser is a compiled SNMPv3 (USM) user, of a device or of the trap
// receiver.
type usmUser struct {
	level   gosnmp.SnmpV3MsgFlags
	name    string
	auth    gosnmp.SnmpV3AuthProtocol
	authKey string
	priv    gosnmp.SnmpV3PrivProtocol
	privKey string
}

// params returns fresh USM parameters for the user.
func (u *usmUser) params() *gosnmp.UsmSecurityParameters {
	p := &gosnmp.UsmSecurityParameters{UserName: u.name, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	if u.level&gosnmp.AuthNoPriv != 0 {
		p.AuthenticationProtocol, p.AuthenticationPassphrase = u.auth, u.authKey
	}
	if u.level&gosnmp.AuthPriv == gosnmp.AuthPriv {
		p.PrivacyProtocol, p.PrivacyPassphrase = u.priv, u.privKey
	}
	return p
}

func compileSecurity(doc *conf.Doc, path string, c *deviceConfig, d *device) error {
	v, err := parseVersion(c.Version)
	if err != nil {
		return doc.Errorf(path+".version", "%v", err)
	}
	switch v {
	case 1:
		d.version = gosnmp.Version1
	case 2:
		d.version = gosnmp.Version2c
	case 3:
		d.version = gosnmp.Version3
		u, err := compileUser(doc, path, &v3UserConfig{UserName: c.UserName, SecurityLevel: c.SecurityLevel,
			AuthProtocol: c.AuthProtocol, AuthKey: c.AuthKey, PrivProtocol: c.PrivProtocol, PrivKey: c.PrivKey})
		if err != nil {
			return err
		}
		d.usm = u
		d.contextName = c.ContextName
		if c.ContextEngineID != "" {
			b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(c.ContextEngineID), "0x"))
			if err != nil || len(b) < 5 || len(b) > 32 {
				return doc.Errorf(path+".contextEngineId", "want 5 to 32 bytes in hex")
			}
			d.contextEngineID = string(b)
		}
	}
	return nil
}

// compileUser validates USM credentials. Missing protocols default to SHA
// and AES; a missing level follows from the keys given.
func compileUser(doc *conf.Doc, path string, c *v3UserConfig) (*usmUser, error) {
	u := &usmUser{name: c.UserName, authKey: c.AuthKey, privKey: c.PrivKey, auth: gosnmp.SHA, priv: gosnmp.AES}
	if u.name == "" {
		return nil, doc.Errorf(path+".userName", "required for SNMPv3")
	}
	switch strings.ToLower(c.SecurityLevel) {
	case "":
		switch {
		case c.PrivKey != "":
			u.level = gosnmp.AuthPriv
		case c.AuthKey != "":
			u.level = gosnmp.AuthNoPriv
		default:
			u.level = gosnmp.NoAuthNoPriv
		}
	case "noauthnopriv":
		u.level = gosnmp.NoAuthNoPriv
	case "authnopriv":
		u.level = gosnmp.AuthNoPriv
	case "authpriv":
		u.level = gosnmp.AuthPriv
	default:
		return nil, doc.Errorf(path+".securityLevel", "must be noAuthNoPriv, authNoPriv or authPriv")
	}
	if c.AuthProtocol != "" {
		a, ok := authProtocols[normProto(c.AuthProtocol)]
		if !ok {
			return nil, doc.Errorf(path+".authProtocol", "unknown %q: want MD5, SHA, SHA224, SHA256, SHA384 or SHA512", c.AuthProtocol)
		}
		u.auth = a
	}
	if c.PrivProtocol != "" {
		p, ok := privProtocols[normProto(c.PrivProtocol)]
		if !ok {
			return nil, doc.Errorf(path+".privProtocol", "unknown %q: want DES, AES, AES192, AES256, AES192C or AES256C", c.PrivProtocol)
		}
		u.priv = p
	}
	if u.level&gosnmp.AuthNoPriv != 0 && len(u.authKey) < 8 {
		return nil, doc.Errorf(path+".authKey", "at least 8 characters needed for %s", levelName(u.level))
	}
	if u.level == gosnmp.AuthPriv && len(u.privKey) < 8 {
		return nil, doc.Errorf(path+".privKey", "at least 8 characters needed for authPriv")
	}
	return u, nil
}

func levelName(l gosnmp.SnmpV3MsgFlags) string {
	switch l & gosnmp.AuthPriv {
	case gosnmp.AuthPriv:
		return "authPriv"
	case gosnmp.AuthNoPriv:
		return "authNoPriv"
	}
	return "noAuthNoPriv"
}

func normProto(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToUpper(s))
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA1": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES128": gosnmp.AES, "AES192": gosnmp.AES192,
	"AES256": gosnmp.AES256, "AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C,
}
