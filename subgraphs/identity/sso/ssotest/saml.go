package ssotest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/studio-platform/studio/subgraphs/identity/sso"
)

// SAMLUser is who the identity provider signs in.
type SAMLUser struct {
	NameID string
	Email  string
}

// SAMLIdP is a crewjam/saml identity provider started in a test. It signs in
// User at once (no login form) and signs its assertions with its own key;
// Tamper, when set, changes each assertion before it is signed.
type SAMLIdP struct {
	IdP *saml.IdentityProvider
	URL string

	mu     sync.Mutex
	user   SAMLUser
	tamper func(*saml.Assertion)
	plain  bool
}

// StartSAML starts an identity provider until the test ends.
func StartSAML(t testing.TB) *SAMLIdP {
	t.Helper()
	keyPEM, certPEM, err := sso.GenerateSAMLKey()
	require.NoError(t, err)
	key, err := sso.ParseSAMLKey(keyPEM, certPEM)
	require.NoError(t, err)
	s := &SAMLIdP{}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	meta, _ := url.Parse(srv.URL + "/metadata")
	ssoURL, _ := url.Parse(srv.URL + "/sso")
	s.IdP = &saml.IdentityProvider{
		Key: key.Key, Certificate: key.Certificate,
		MetadataURL: *meta, SSOURL: *ssoURL,
		ServiceProviderProvider: spByMetadataURL{client: srv.Client(), idp: s},
		SessionProvider:         s,
		AssertionMaker:          s,
	}
	mux.HandleFunc("GET /metadata", s.IdP.ServeMetadata)
	mux.HandleFunc("/sso", s.IdP.ServeSSO)
	return s
}

// SignInAs makes the next sign-ins sign in u; tamper (nil: none) changes
// their assertions before the IdP signs them.
func (s *SAMLIdP) SignInAs(u SAMLUser, tamper func(*saml.Assertion)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.tamper = u, tamper
}

// PlainAssertions makes the IdP send assertions in the clear (signed, not
// encrypted to the SP's certificate), as IdPs without encryption do; tests
// then edit them.
func (s *SAMLIdP) PlainAssertions(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plain = on
}

// MetadataXML is the identity provider's metadata.
func (s *SAMLIdP) MetadataXML(t testing.TB) string {
	t.Helper()
	b, err := xml.Marshal(s.IdP.Metadata())
	require.NoError(t, err)
	return string(b)
}

// GetSession implements saml.SessionProvider: the user is signed in already.
func (s *SAMLIdP) GetSession(_ http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	return &saml.Session{
		ID: fmt.Sprintf("session-%d", now.UnixNano()), CreateTime: now, ExpireTime: now.Add(time.Hour), Index: "1",
		NameID: s.user.NameID, UserEmail: s.user.Email, UserName: s.user.NameID,
	}
}

// MakeAssertion implements saml.AssertionMaker: crewjam's, then Tamper.
func (s *SAMLIdP) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tamper != nil {
		s.tamper(req.Assertion)
	}
	return nil
}

// spByMetadataURL finds a service provider by fetching its entity id, which
// is its metadata URL (as for identity's SPs).
type spByMetadataURL struct {
	client *http.Client
	idp    *SAMLIdP
}

func (p spByMetadataURL) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	resp, err := p.client.Get(id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metadata of %s: %s", id, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		return nil, err
	}
	p.idp.mu.Lock()
	defer p.idp.mu.Unlock()
	if p.idp.plain {
		for i, d := range ed.SPSSODescriptors {
			var keep []saml.KeyDescriptor
			for _, k := range d.KeyDescriptors {
				if k.Use != "encryption" && k.Use != "" {
					keep = append(keep, k)
				}
			}
			ed.SPSSODescriptors[i].KeyDescriptors = keep
		}
	}
	return &ed, nil
}

// Form is an HTML form: where it posts and its fields.
type Form struct {
	Action string
	Fields url.Values
}

// FormOf parses the first form of an HTML page (a SAML POST-binding page
// that a browser would submit by script).
func FormOf(t testing.TB, r Response) Form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(string(r.Body)))
	require.NoError(t, err)
	var f *Form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && f == nil {
			f = &Form{Action: attr(n, "action"), Fields: url.Values{}}
		}
		if n.Type == html.ElementNode && n.Data == "input" && f != nil && attr(n, "name") != "" {
			f.Fields.Add(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.NotNil(t, f, "no form in %s", r.Body)
	action, err := r.URL.Parse(f.Action)
	require.NoError(t, err)
	f.Action = action.String()
	return *f
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// Submit posts the form, following redirects.
func (b *Browser) Submit(t testing.TB, f Form) Response {
	t.Helper()
	return b.PostForm(t, f.Action, f.Fields)
}
