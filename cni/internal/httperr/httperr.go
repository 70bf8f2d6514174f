// Package httperr tells transport failures that another attempt may cure (refused, reset,
// timed out) from those it cannot: the server's certificate is not trusted, or it does not
// speak TLS at all. Those are configuration errors, reported at once, not retried.
package httperr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// TLSConfig tells whether err is a certificate or TLS protocol mismatch.
func TLSConfig(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &record) ||
		// net/http turns the record header error of an https request to a plain server into this text.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}
