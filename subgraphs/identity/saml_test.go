package identity_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/studio-platform/studio/subgraphs/identity/graph/model"
	"github.com/studio-platform/studio/subgraphs/identity/password"
	"github.com/studio-platform/studio/subgraphs/identity/sso/ssotest"
	"github.com/studio-platform/studio/subgraphs/internal/gqltest"
)

const setSAML = `mutation($m: String!) { setSamlIdentityProvider(metadataXml: $m) { entityId ssoUrl spEntityId spMetadataUrl acsUrl signInUrl } }`

type samlConfig struct {
	EntityID      string `json:"entityId"`
	SsoURL        string `json:"ssoUrl"`
	SpEntityID    string `json:"spEntityId"`
	SpMetadataURL string `json:"spMetadataUrl"`
	AcsURL        string `json:"acsUrl"`
	SignInURL     string `json:"signInUrl"`
}

// samlForm starts a SAML sign-in in b and returns the IdP's POST form (the
// SAML response and RelayState), not submitted yet.
func samlForm(t *testing.T, b *ssotest.Browser, start string) ssotest.Form {
	t.Helper()
	r := b.Get(t, start)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	f := ssotest.FormOf(t, r)
	require.NotEmpty(t, f.Fields.Get("SAMLResponse"))
	return f
}

// rewrite decodes the form's SAML response, applies fn to its XML and
// encodes it again.
func rewrite(t *testing.T, f ssotest.Form, fn func(string) string) ssotest.Form {
	t.Helper()
	x, err := base64.StdEncoding.DecodeString(f.Fields.Get("SAMLResponse"))
	require.NoError(t, err)
	out := fn(string(x))
	require.NotEqual(t, string(x), out, "the rewrite changed nothing")
	f.Fields.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(out)))
	return f
}

func TestSAMLSignIn(t *testing.T) {
	idp := ssotest.StartSAML(t)
	e := startSSO(t)
	ada := signUp(t, e, "ada@example.com")
	ctx := context.Background()
	claims, err := e.svc.Signer().Verify(ctx, ada.AccessToken)
	require.NoError(t, err)
	org := claims.OrgID

	t.Run("an ADMIN sets the identity provider; bad metadata and other roles are refused", func(t *testing.T) {
		var out struct{ SetSamlIdentityProvider samlConfig }
		gqltest.Post(t, e.url, ada.AccessToken, setSAML, map[string]any{"m": idp.MetadataXML(t)}).Decode(t, &out)
		base := e.srv.URL + "/auth/saml/" + org
		require.Equal(t, samlConfig{EntityID: idp.URL + "/metadata", SsoURL: idp.URL + "/sso", SpEntityID: base + "/metadata",
			SpMetadataURL: base + "/metadata", AcsURL: base + "/acs", SignInURL: base + "/start"}, out.SetSamlIdentityProvider)

		var q struct{ SamlIdentityProvider *samlConfig }
		gqltest.Post(t, e.url, ada.AccessToken, `{ samlIdentityProvider { entityId signInUrl } }`, nil).Decode(t, &q)
		require.Equal(t, base+"/start", q.SamlIdentityProvider.SignInURL)

		for name, m := range map[string]string{
			"garbage":  "<not-metadata/>",
			"too long": strings.Repeat("x", 100_001),
			"no IdP":   `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>`,
		} {
			r := gqltest.Post(t, e.url, ada.AccessToken, setSAML, map[string]any{"m": m})
			require.Equal(t, []string{"BAD_USER_INPUT"}, r.Codes(), name)
		}

		hash, err := password.Hash("member password")
		require.NoError(t, err)
		require.NoError(t, e.svc.Store().CreateUser(ctx, &model.User{ID: uuid.NewString(), OrganizationID: org, Email: "bob@example.com", Name: "Bob", Role: model.RoleMember}, hash))
		var li struct{ Login authPayload }
		gqltest.Post(t, e.url, "", `mutation { login(email: "bob@example.com", password: "member password") { accessToken } }`, nil).Decode(t, &li)
		r := gqltest.Post(t, e.url, li.Login.AccessToken, setSAML, map[string]any{"m": idp.MetadataXML(t)})
		require.Equal(t, []string{"FORBIDDEN"}, r.Codes())
		require.Equal(t, []string{"FORBIDDEN"}, gqltest.Post(t, e.url, li.Login.AccessToken, `mutation { removeSamlIdentityProvider }`, nil).Codes())
		require.Equal(t, []string{"UNAUTHENTICATED"}, gqltest.Post(t, e.url, "", setSAML, map[string]any{"m": idp.MetadataXML(t)}).Codes())
	})

	start := e.srv.URL + "/auth/saml/" + org + "/start"
	signedInAs := func(t *testing.T, r ssotest.Response) string {
		t.Helper()
		s := decodeSignIn(t, r)
		var out struct{ Me *struct{ ID string } }
		gqltest.Post(t, e.url, s.AccessToken, `{ me { id } }`, nil).Decode(t, &out)
		return out.Me.ID
	}

	t.Run("sign-in through the IdP (assertion encrypted to the SP), then by NameID", func(t *testing.T) {
		idp.SignInAs(ssotest.SAMLUser{NameID: "ada-at-idp", Email: "ada@example.com"}, nil)
		b := ssotest.NewBrowser(t)
		require.Equal(t, ada.User.ID, signedInAs(t, b.Submit(t, samlForm(t, b, start))))

		idp.SignInAs(ssotest.SAMLUser{NameID: "ada-at-idp", Email: "ada.renamed@example.com"}, nil)
		b = ssotest.NewBrowser(t)
		require.Equal(t, ada.User.ID, signedInAs(t, b.Submit(t, samlForm(t, b, start))))
	})

	t.Run("the IdP cannot sign in another organization's user", func(t *testing.T) {
		signUp(t, e, "grace@other.example")
		idp.SignInAs(ssotest.SAMLUser{NameID: "grace-at-idp", Email: "grace@other.example"}, nil)
		b := ssotest.NewBrowser(t)
		r := b.Submit(t, samlForm(t, b, start))
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, []string{"NO_ACCOUNT"}, r.Reasons(t))
	})

	refused := func(t *testing.T, r ssotest.Response, reason string) {
		t.Helper()
		require.Equal(t, http.StatusUnauthorized, r.Status, "body: %s", r.Body)
		require.Equal(t, []string{reason}, r.Reasons(t))
	}
	ada1 := ssotest.SAMLUser{NameID: "ada-at-idp", Email: "ada@example.com"}

	idp.PlainAssertions(true) // from here on: assertions the test can read and edit
	t.Run("tampered assertion", func(t *testing.T) {
		idp.SignInAs(ssotest.SAMLUser{NameID: "someone-at-idp", Email: "someone@example.com"}, nil)
		b := ssotest.NewBrowser(t)
		f := rewrite(t, samlForm(t, b, start), func(x string) string { return strings.ReplaceAll(x, "someone-at-idp", "ada-at-idp") })
		refused(t, b.Submit(t, f), "SIGNATURE_INVALID")
	})

	t.Run("unsigned assertion", func(t *testing.T) {
		idp.SignInAs(ada1, nil)
		b := ssotest.NewBrowser(t)
		sig := regexp.MustCompile(`(?s)<ds:Signature.*?</ds:Signature>`)
		f := rewrite(t, samlForm(t, b, start), func(x string) string { return sig.ReplaceAllString(x, "") })
		refused(t, b.Submit(t, f), "SIGNATURE_INVALID")
	})

	t.Run("assertion for another service provider", func(t *testing.T) {
		idp.SignInAs(ada1, func(a *saml.Assertion) {
			a.Conditions.AudienceRestrictions = []saml.AudienceRestriction{{Audience: saml.Audience{Value: "https://another-sp.example/metadata"}}}
		})
		b := ssotest.NewBrowser(t)
		refused(t, b.Submit(t, samlForm(t, b, start)), "AUDIENCE_MISMATCH")
	})

	t.Run("expired assertion", func(t *testing.T) {
		idp.SignInAs(ada1, func(a *saml.Assertion) {
			past := time.Now().Add(-2 * time.Hour)
			a.Conditions.NotBefore, a.Conditions.NotOnOrAfter = past, past.Add(5*time.Minute)
		})
		b := ssotest.NewBrowser(t)
		refused(t, b.Submit(t, samlForm(t, b, start)), "ASSERTION_EXPIRED")
	})

	t.Run("response to another request, replayed response", func(t *testing.T) {
		idp.SignInAs(ada1, nil)
		b := ssotest.NewBrowser(t)
		first, second := samlForm(t, b, start), samlForm(t, b, start)
		first.Fields.Set("RelayState", second.Fields.Get("RelayState"))
		refused(t, b.Submit(t, first), "IN_RESPONSE_TO_MISMATCH")
		refused(t, b.Submit(t, second), "STATE_INVALID") // its state was used up by the mismatch

		third := samlForm(t, b, start)
		decodeSignIn(t, b.Submit(t, third))
		refused(t, b.Submit(t, third), "STATE_INVALID")
		refused(t, ssotest.NewBrowser(t).Submit(t, samlForm(t, b, start)), "BROWSER_MISMATCH")
	})

	t.Run("SP metadata; organizations without an IdP", func(t *testing.T) {
		r := ssotest.NewBrowser(t).Get(t, e.srv.URL+"/auth/saml/"+org+"/metadata")
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, string(r.Body), `entityID="`+e.srv.URL+"/auth/saml/"+org+`/metadata"`)
		require.Contains(t, string(r.Body), e.srv.URL+"/auth/saml/"+org+"/acs")

		r = ssotest.NewBrowser(t).Get(t, e.srv.URL+"/auth/saml/"+uuid.NewString()+"/start")
		require.Equal(t, http.StatusNotFound, r.Status)
		require.Equal(t, []string{"NO_SAML_PROVIDER"}, r.Reasons(t))
		r = ssotest.NewBrowser(t).Get(t, e.srv.URL+"/auth/saml/not-an-id/start")
		require.Equal(t, []string{"UNKNOWN_ORGANIZATION"}, r.Reasons(t))

		var rm struct{ RemoveSamlIdentityProvider bool }
		gqltest.Post(t, e.url, ada.AccessToken, `mutation { removeSamlIdentityProvider }`, nil).Decode(t, &rm)
		require.True(t, rm.RemoveSamlIdentityProvider)
		r = ssotest.NewBrowser(t).Get(t, start)
		require.Equal(t, []string{"NO_SAML_PROVIDER"}, r.Reasons(t))
	})
}
