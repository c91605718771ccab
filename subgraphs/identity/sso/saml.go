package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/google/uuid"

	"github.com/studio-platform/studio/subgraphs/identity/store"
	"github.com/studio-platform/studio/subgraphs/kit"
)

// MaxSAMLMetadata bounds an identity provider's metadata XML (characters).
const MaxSAMLMetadata = 100_000

// maxSAMLResponse bounds the ACS request body (a SAML response, base64).
const maxSAMLResponse = 512 << 10

// SAMLProviders are the organizations' identity providers.
type SAMLProviders interface {
	// SAMLProvider returns orgID's provider, or store.ErrNotFound.
	SAMLProvider(ctx context.Context, orgID string) (*store.SAMLProvider, error)
}

// SAMLKey is the service provider's key pair: it signs nothing yet but is
// published in the metadata as the key IdPs may encrypt assertions to.
type SAMLKey struct {
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// GenerateSAMLKey returns a new RSA 2048 key and a self-signed certificate
// for it (valid ten years), PEM-encoded.
func GenerateSAMLKey() (keyPEM, certPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("saml key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("saml key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "studio-identity SAML service provider"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("saml key: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return keyPEM, certPEM, nil
}

// ParseSAMLKey parses what GenerateSAMLKey returns.
func ParseSAMLKey(keyPEM, certPEM []byte) (SAMLKey, error) {
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return SAMLKey{}, errors.New("saml key: not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return SAMLKey{}, fmt.Errorf("saml key: %w", err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return SAMLKey{}, fmt.Errorf("saml key: %w", err)
	}
	return SAMLKey{Key: key, Certificate: cert}, nil
}

// SPURLs are an organization's service-provider URLs, to register at its IdP.
type SPURLs struct {
	// EntityID is the SP's entity id: its metadata URL.
	EntityID string
	Metadata string
	// ACS is the assertion consumer service (HTTP-POST).
	ACS string
	// Start is where the organization's members start a sign-in.
	Start string
}

// SAMLURLs returns organization orgID's service-provider URLs under publicURL.
func SAMLURLs(publicURL, orgID string) SPURLs {
	base := strings.TrimSuffix(publicURL, "/") + "/auth/saml/" + orgID
	return SPURLs{EntityID: base + "/metadata", Metadata: base + "/metadata", ACS: base + "/acs", Start: base + "/start"}
}

// IdPMetadata is what sign-in needs of an identity provider's metadata.
type IdPMetadata struct {
	EntityID string
	// SSOURL takes AuthnRequests with the HTTP-Redirect binding.
	SSOURL string
}

// ParseIdPMetadata checks an identity provider's metadata: an
// EntityDescriptor (or the first IdP of an EntitiesDescriptor) with an
// IDPSSODescriptor that has an HTTP-Redirect SingleSignOnService and a
// signing certificate. Problems are BAD_USER_INPUT errors.
func ParseIdPMetadata(data []byte) (IdPMetadata, *saml.EntityDescriptor, error) {
	bad := func(format string, args ...any) error {
		return &kit.Error{Code: kit.CodeBadUserInput, Message: "metadataXml: " + fmt.Sprintf(format, args...)}
	}
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return IdPMetadata{}, nil, bad("not SAML 2.0 identity provider metadata (%s)", firstLine(err.Error()))
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return IdPMetadata{}, nil, bad("no IDPSSODescriptor")
	}
	m := IdPMetadata{EntityID: ed.EntityID}
	if m.EntityID == "" || len(m.EntityID) > 1024 {
		return IdPMetadata{}, nil, bad("entityID is required (at most 1024 characters)")
	}
	signing := false
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			if s.Binding == saml.HTTPRedirectBinding && m.SSOURL == "" {
				m.SSOURL = s.Location
			}
		}
		for _, k := range d.KeyDescriptors {
			if (k.Use == "" || k.Use == "signing") && len(k.KeyInfo.X509Data.X509Certificates) > 0 {
				signing = true
			}
		}
	}
	if u, err := url.Parse(m.SSOURL); m.SSOURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return IdPMetadata{}, nil, bad("no HTTP-Redirect SingleSignOnService with an http(s) location")
	}
	if !signing {
		return IdPMetadata{}, nil, bad("no signing certificate")
	}
	return m, ed, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// serviceProvider is organization orgID's SP facing idp.
func (h *Handler) serviceProvider(orgID string, idp *saml.EntityDescriptor) (*saml.ServiceProvider, error) {
	u := SAMLURLs(h.publicURL, orgID)
	meta, err := url.Parse(u.Metadata)
	if err != nil {
		return nil, err
	}
	acs, err := url.Parse(u.ACS)
	if err != nil {
		return nil, err
	}
	return &saml.ServiceProvider{
		EntityID:                         u.EntityID,
		Key:                              h.samlKey.Key,
		Certificate:                      h.samlKey.Certificate,
		MetadataURL:                      *meta,
		AcsURL:                           *acs,
		IDPMetadata:                      idp,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		RejectSHA1Signatures:             true,
		HTTPClient:                       h.client,
	}, nil
}

// samlOrg returns the organization id of the request's path.
func samlOrg(r *http.Request) (string, error) {
	id := r.PathValue("org")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", errUnknownOrganization
	}
	return strings.ToLower(id), nil
}

// samlIdP returns the organization's SP and IdP; 404 without an IdP.
func (h *Handler) samlIdP(ctx context.Context, orgID string) (*store.SAMLProvider, *saml.ServiceProvider, error) {
	p, err := h.saml.SAMLProvider(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errNoSAMLProvider
	}
	if err != nil {
		return nil, nil, err
	}
	_, ed, err := ParseIdPMetadata([]byte(p.MetadataXML))
	if err != nil {
		return nil, nil, fmt.Errorf("stored metadata of %s: %w", orgID, err)
	}
	sp, err := h.serviceProvider(orgID, ed)
	return p, sp, err
}

// samlMetadata serves an organization's SP metadata (before its IdP is set:
// the IdP needs it first).
func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request) {
	org, err := samlOrg(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sp, err := h.serviceProvider(org, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

// samlStart redirects to the organization's IdP with a new AuthnRequest
// (HTTP-Redirect binding, response by HTTP-POST); its ID is the only
// InResponseTo the answer may carry.
func (h *Handler) samlStart(w http.ResponseWriter, r *http.Request) {
	org, err := samlOrg(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, sp, err := h.samlIdP(r.Context(), org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	state, err := h.pending.put(r.Context(), pending{Kind: "saml", Target: org, Browser: bindBrowser(w, r, isHTTPS(h.publicURL)), RequestID: req.ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := req.Redirect(state, sp)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// samlACS takes the IdP's response: the RelayState must be pending, for this
// organization and browser; the response must be signed by the IdP's
// certificate, for this SP (audience, destination), in its validity window,
// in response to the pending AuthnRequest; then its subject is signed in
// (to this organization only).
func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request) {
	org, err := samlOrg(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLResponse)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, &kit.Error{Code: kit.CodeBadUserInput, Message: "unreadable SAML response form", Err: err})
		return
	}
	pend, err := h.pending.take(r.Context(), r.PostForm.Get("RelayState"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if pend.Kind != "saml" || pend.Target != org {
		h.fail(w, r, errStateInvalid)
		return
	}
	if !sameBrowser(r, pend) {
		h.fail(w, r, errBrowserMismatch)
		return
	}
	p, sp, err := h.samlIdP(r.Context(), org)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := sp.ParseResponse(r, []string{pend.RequestID})
	if err != nil {
		h.fail(w, r, assertionError(err))
		return
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		h.fail(w, r, assertionError(errors.New("no NameID")))
		return
	}
	nameID := a.Subject.NameID
	email := attribute(a, "urn:oid:0.9.2342.19200300.100.1.3", "mail", "email", "emailaddress", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
	if email == "" && nameID.Format == string(saml.EmailAddressNameIDFormat) {
		email = nameID.Value
	}
	h.signIn(w, r, External{
		Issuer: "saml:" + org + ":" + p.EntityID, Subject: nameID.Value,
		// An organization's IdP vouches for its own members' addresses
		// (ExternalUser limits it to OrgID).
		Email: email, EmailVerified: email != "", OrgID: org,
	})
}

// attribute returns the first value of the first attribute named (Name or
// FriendlyName) one of names.
func attribute(a *saml.Assertion, names ...string) string {
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, n := range names {
				if (strings.EqualFold(at.Name, n) || strings.EqualFold(at.FriendlyName, n)) && len(at.Values) > 0 {
					return strings.TrimSpace(at.Values[0].Value)
				}
			}
		}
	}
	return ""
}

// assertionError classifies a refused SAML response.
func assertionError(err error) *kit.Error {
	cause := err
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		cause = ire.PrivateErr
	}
	reason, msg := "ASSERTION_INVALID", "the identity provider's SAML response is not valid"
	switch {
	case errors.Is(cause, saml.ErrInvalidSignature), errors.Is(cause, saml.ErrUntrustedCertificate),
		// crewjam/saml's unexported errSignatureElementNotPresent: neither
		// the response nor its assertion is signed.
		cause.Error() == "signature element not present":
		reason, msg = "SIGNATURE_INVALID", "the SAML response is not signed by the organization's identity provider"
	case errors.Is(cause, saml.ErrAudienceMismatch):
		reason, msg = "AUDIENCE_MISMATCH", "the SAML assertion is meant for another service provider"
	case errors.Is(cause, saml.ErrExpired), errors.Is(cause, saml.ErrNotYetValid):
		reason, msg = "ASSERTION_EXPIRED", "the SAML assertion is expired or not yet valid"
	case errors.Is(cause, saml.ErrRequestIDMismatch):
		reason, msg = "IN_RESPONSE_TO_MISMATCH", "the SAML response answers another sign-in"
	case errors.Is(cause, saml.ErrIssuerMismatch):
		reason, msg = "ISSUER_MISMATCH", "the SAML response comes from another identity provider"
	case errors.Is(cause, saml.ErrDestinationMismatch):
		reason, msg = "DESTINATION_MISMATCH", "the SAML response was sent to another address"
	}
	return &kit.Error{Code: kit.CodeUnauthenticated, Reason: reason, Message: msg, Err: cause}
}
