package ftp

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
	"github.com/tbgw/tbgw/gw/connector"
)

// startVsftpd runs vsftpd (standalone, anonymous, read-only) on a free
// port serving root; with tlsDir it requires TLS on control and data
// connections, with session reuse as vsftpd demands by default: explicit
// (AUTH TLS), or implicit (TLS from the first byte) with implicit set.
func startVsftpd(t *testing.T, root, tlsDir string, implicit bool) (port int, caFile string) {
	t.Helper()
	_, err := os.Stat("/usr/sbin/vsftpd")
	drivertest.RequirePeer(t, err == nil, "vsftpd (scripts/peers/ftp.sh)")
	drivertest.RequirePeer(t, os.Geteuid() == 0, "root, which vsftpd needs to start")
	dir, err := os.MkdirTemp("", "tbgw-vsftpd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o555); err != nil {
		t.Fatal(err)
	}
	port = drivertest.FreePort(t)
	conf := []string{
		"listen=YES", "listen_address=127.0.0.1", fmt.Sprintf("listen_port=%d", port),
		"anonymous_enable=YES", "anon_root=" + root, "no_anon_password=YES", "local_enable=NO",
		"write_enable=NO", "background=NO", "seccomp_sandbox=NO", "secure_chroot_dir=" + empty,
		"xferlog_enable=NO", "pasv_enable=YES", "pasv_address=127.0.0.1",
	}
	if tlsDir != "" {
		cert, key := selfSigned(t, tlsDir)
		os.Chmod(tlsDir, 0o755)
		caFile = cert
		conf = append(conf, "ssl_enable=YES", "allow_anon_ssl=YES", "force_anon_logins_ssl=YES",
			"force_anon_data_ssl=YES", "rsa_cert_file="+cert, "rsa_private_key_file="+key)
		if implicit {
			conf = append(conf, "implicit_ssl=YES")
		}
	}
	cf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(cf, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	drivertest.StartProcess(t, nil, "/usr/sbin/vsftpd", cf)
	drivertest.WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if implicit {
		// A plain client gets no "220" greeting: TLS comes first.
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if b, _ := bufio.NewReader(c).ReadString('\n'); strings.HasPrefix(b, "220") {
			t.Fatalf("vsftpd greets in plain text with implicit_ssl: %q", b)
		}
		c.Close()
	}
	return port, caFile
}

// vsftpd lists with LIST only (no MLSD): the listing parser and MDTM path,
// in plain FTP, explicit FTPS and implicit FTPS.
func TestVsftpd(t *testing.T) {
	for _, mode := range []string{"plain", "explicit", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			root, err := os.MkdirTemp("", "tbgw-anon-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(root) })
			putFile(t, filepath.Join(root, "exports/site1/meter_a.csv"), "serial,model,ts,kwh\nV1,M,1700000000000,3.5\n")
			putFile(t, filepath.Join(root, "exports/site2/meter_b.csv"), "serial,model,ts,kwh\nV2,M,1700000000000,4.5\n")
			for _, d := range []string{root, filepath.Join(root, "exports"), filepath.Join(root, "exports/site1"), filepath.Join(root, "exports/site2")} {
				os.Chmod(d, 0o555)
			}
			tlsDir := ""
			if mode != "plain" {
				tlsDir = t.TempDir()
			}
			port, ca := startVsftpd(t, root, tlsDir, mode == "implicit")
			extra := ""
			if mode != "plain" {
				extra = fmt.Sprintf(`,"TLSSupport":true,"tls":{"caFile":%q,"implicit":%v}`, ca, mode == "implicit")
			}
			cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"security":{"type":"anonymous"}%s,
			  "paths":[{"devicePatternName":"${serial}","path":"exports/*/meter_*.csv","pollPeriod":0.2,
			    "timeseries":[{"key":"ts","value":"${ts}"},{"key":"kwh","value":"${kwh}","type":"double"}]}]}`, port, extra)
			c := newConnector(t, drivertest.Env(t, "vsftpd", "ftp"), cfg)
			sink := drivertest.NewSink()
			drivertest.Run(t, c, sink)
			sink.Wait(t, 20*time.Second, "both meters", func(d []connector.Data) bool { return len(d) >= 2 })
			for dev, want := range map[string]float64{"V1": 3.5, "V2": 4.5} {
				if v, _ := sink.Latest(dev, "kwh", false); v != want {
					t.Errorf("%s kwh = %v", dev, v)
				}
			}
		})
	}
}
