package restore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM files and as Go values.
type testPKI struct {
	dir                   string
	caFile                string
	serverCert, serverKey string
	pool                  *x509.CertPool
	client                tls.Certificate
	otherCA               *x509.CertPool // a CA that signed nothing here
	otherClient           tls.Certificate
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	serial := int64(1)
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	now := time.Now()
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key := newKey()
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, der
	}
	issue := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) ([]byte, *ecdsa.PrivateKey) {
		key := newKey()
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}

	ca, caKey, caDER := newCA("rdbferry test CA")
	p.caFile = writePEM("ca.crt", "CERTIFICATE", caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	der, key := issue(ca, caKey, "redis", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"redis.test"})
	p.serverCert = writePEM("server.crt", "CERTIFICATE", der)
	p.serverKey = writePEM("server.key", "EC PRIVATE KEY", keyDER(key))
	der, key = issue(ca, caKey, "rdbferry client", x509.ExtKeyUsageClientAuth, nil, nil)
	p.client = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}

	other, otherKey, _ := newCA("another CA")
	p.otherCA = x509.NewCertPool()
	p.otherCA.AddCert(other)
	der, key = issue(other, otherKey, "stranger", x509.ExtKeyUsageClientAuth, nil, nil)
	p.otherClient = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return p
}

// redisHasTLS reports whether the redis-server binary redistest runs was
// built with TLS (BUILD_TLS=yes), by asking it to check a TLS setting.
func redisHasTLS(t *testing.T) (bool, string) {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	// --tls-port is an unknown option in a build without TLS; with TLS the
	// server gets past it and stops at the missing certificate instead.
	out, _ := exec.Command(bin, "--port", "0", "--tls-port", "1", "--tls-cert-file", "/nonexistent", "--tls-key-file", "/nonexistent",
		"--tls-ca-cert-file", "/nonexistent", "--logfile", "").CombinedOutput()
	s := string(out)
	switch {
	case strings.Contains(s, "Failed to load certificate") || strings.Contains(s, "Failed to configure TLS"):
		return true, ""
	case strings.Contains(s, "Bad directive"):
		return false, bin + " was built without TLS: " + strings.TrimSpace(s)
	}
	return false, bin + ": cannot tell whether it supports TLS: " + strings.TrimSpace(s)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port
		}
	}
}

// TestTLS writes keys into a redis-server that requires TLS with client
// certificates (mutual TLS) on its TLS port, and checks that the Writer
// verifies the server: an unknown CA, the system roots or a wrong server
// name make Dial fail with a certificate error, and so does a client
// without a certificate the server trusts.
func TestTLS(t *testing.T) {
	if ok, why := redisHasTLS(t); !ok {
		t.Skip(why)
	}
	pki := newPKI(t)
	tlsPort := freePort(t)
	srv := redistest.Start(t,
		redistest.Config("tls-port", strconv.Itoa(tlsPort)),
		redistest.Config("tls-cert-file", pki.serverCert),
		redistest.Config("tls-key-file", pki.serverKey),
		redistest.Config("tls-ca-cert-file", pki.caFile),
		redistest.Config("tls-auth-clients", "yes"),
	)
	url := "rediss://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
	ctx := context.Background()

	t.Run("mutual TLS", func(t *testing.T) {
		d := newDataset(t, 3000, "tls:", nil)
		w, err := Dial(ctx, url, Options{TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}, Conns: 2})
		if err != nil {
			t.Fatal(err)
		}
		st := d.writeAll(t, w)
		if st.Written != int64(d.keys) || st.Failed != 0 {
			t.Fatalf("stats %+v; failures %v", st, w.Failures())
		}
		// The server saw TLS clients, and holds the keys.
		info := parseInfo(string(srv.MustDo(t, "INFO", "stats").([]byte)))
		t.Logf("stats %+v; server: total_connections_received:%s", st, info["total_connections_received"])
		rdbtest.Compare(t, serverContents(t, srv, true), d.want(t))
	})

	t.Run("server name from the config", func(t *testing.T) {
		w, err := Dial(ctx, "rediss://"+net.JoinHostPort("localhost", strconv.Itoa(tlsPort)), Options{TLS: &tls.Config{
			RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, ServerName: "redis.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})

	certError := func(t *testing.T, err error, want any) {
		t.Helper()
		if err == nil {
			t.Fatal("Dial succeeded")
		}
		switch want.(type) {
		case x509.UnknownAuthorityError:
			var e x509.UnknownAuthorityError
			if !errors.As(err, &e) {
				t.Fatalf("Dial: %v (%T), want an unknown authority error", err, errors.Unwrap(err))
			}
		case x509.HostnameError:
			var e x509.HostnameError
			if !errors.As(err, &e) {
				t.Fatalf("Dial: %v, want a host name error", err)
			}
		}
		var v *tls.CertificateVerificationError
		if !errors.As(err, &v) {
			t.Fatalf("Dial: %v, want a certificate verification error", err)
		}
		t.Logf("Dial: %v", err)
	}
	t.Run("system roots", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{})
		certError(t, err, x509.UnknownAuthorityError{})
	})
	t.Run("no CA, client certificate", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{TLS: &tls.Config{Certificates: []tls.Certificate{pki.client}}})
		certError(t, err, x509.UnknownAuthorityError{})
	})
	t.Run("another CA", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{TLS: &tls.Config{RootCAs: pki.otherCA, Certificates: []tls.Certificate{pki.client}}})
		certError(t, err, x509.UnknownAuthorityError{})
	})
	t.Run("wrong server name", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, ServerName: "wrong.example"}})
		certError(t, err, x509.HostnameError{})
	})
	t.Run("host name not in the certificate", func(t *testing.T) {
		_, err := Dial(ctx, "rediss://"+net.JoinHostPort("localhost", strconv.Itoa(tlsPort)),
			Options{TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}})
		certError(t, err, x509.HostnameError{})
	})
	// The server refuses clients without a certificate of its CA. With TLS
	// 1.3 the client's handshake is over by then: Dial fails on its first
	// command, with the server's alert ("certificate required", "unknown
	// certificate authority") or a reset, depending on timing.
	refused := func(t *testing.T, err error) {
		t.Helper()
		var v *tls.CertificateVerificationError
		if err == nil || errors.As(err, &v) || !strings.Contains(err.Error(), "INFO server") {
			t.Fatalf("Dial: %v, want the server to refuse the client", err)
		}
		t.Logf("Dial: %v", err)
	}
	t.Run("no client certificate", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{TLS: &tls.Config{RootCAs: pki.pool}})
		refused(t, err)
	})
	t.Run("untrusted client certificate", func(t *testing.T) {
		_, err := Dial(ctx, url, Options{TLS: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.otherClient}}})
		refused(t, err)
	})
	t.Run("plain connection to the TLS port", func(t *testing.T) {
		_, err := Dial(ctx, "redis://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)), Options{DialTimeout: 2 * time.Second})
		if err == nil {
			t.Fatal("Dial succeeded")
		}
		t.Logf("Dial: %v", err)
	})
}
