// Package demo holds the fixed ids and values of the demo data that both the
// identity and the compliance seeds write, so compliance can reference demo
// users and the organization without calling identity.
package demo

// Password is the password of every demo user.
const Password = "studio-demo"

// The demo organization.
const (
	OrgID   = "00000000-0000-4000-8000-000000000001"
	OrgName = "Acme Corp"
	OrgSlug = "acme"
)

// A demo user.
type User struct {
	ID    string
	Email string
	Name  string
	Role  string // ADMIN | MEMBER | VIEWER
}

// Demo users.
var (
	DemoUser = User{ID: "00000000-0000-4000-8000-000000000101", Email: "demo@studio.local", Name: "Demo Admin", Role: "ADMIN"}
	Alice    = User{ID: "00000000-0000-4000-8000-000000000102", Email: "alice@acme.test", Name: "Alice Chen", Role: "MEMBER"}
	Bob      = User{ID: "00000000-0000-4000-8000-000000000103", Email: "bob@acme.test", Name: "Bob Okafor", Role: "MEMBER"}
)

// Users returns the demo users in a fixed order.
func Users() []User { return []User{DemoUser, Alice, Bob} }

// The demo project, owned by DemoUser.
const (
	ProjectID          = "00000000-0000-4000-8000-000000000201"
	ProjectName        = "SOC 2 Type II Readiness"
	ProjectDescription = "Readiness assessment against the AICPA 2017 Trust Services Criteria (Security) ahead of a SOC 2 Type II audit window."
)

// Framework is the framework name of the demo controls.
const Framework = "SOC 2"

// A demo control of the demo project.
type Control struct {
	ID          string
	Code        string
	Title       string
	Description string
	Status      string // NOT_STARTED | IN_PROGRESS | IMPLEMENTED | NOT_APPLICABLE
}

// Controls returns the demo controls (SOC 2, 2017 Trust Services Criteria).
func Controls() []Control {
	return []Control{
		{ID: "00000000-0000-4000-8000-000000000301", Code: "CC6.1", Title: "Logical and physical access controls",
			Description: "The entity implements logical access security software, infrastructure, and architectures over protected information assets to protect them from security events.", Status: "IMPLEMENTED"},
		{ID: "00000000-0000-4000-8000-000000000302", Code: "CC6.2", Title: "User registration and authorization",
			Description: "Prior to issuing system credentials and granting system access, the entity registers and authorizes new internal and external users whose access is administered by the entity.", Status: "IN_PROGRESS"},
		{ID: "00000000-0000-4000-8000-000000000303", Code: "CC6.3", Title: "Role-based access and removal",
			Description: "The entity authorizes, modifies, or removes access to data, software, functions, and other protected information assets based on roles, responsibilities, or the system design.", Status: "IN_PROGRESS"},
		{ID: "00000000-0000-4000-8000-000000000304", Code: "CC7.2", Title: "System monitoring for anomalies",
			Description: "The entity monitors system components and the operation of those components for anomalies that are indicative of malicious acts, natural disasters, and errors affecting the entity's ability to meet its objectives.", Status: "NOT_STARTED"},
		{ID: "00000000-0000-4000-8000-000000000305", Code: "CC8.1", Title: "Change management",
			Description: "The entity authorizes, designs, develops or acquires, configures, documents, tests, approves, and implements changes to infrastructure, data, software, and procedures to meet its objectives.", Status: "NOT_STARTED"},
	}
}

// A demo evidence item.
type Evidence struct {
	ID          string
	ControlID   string
	Title       string
	Description string
	URL         string
	SubmittedBy string // user id
}

// EvidenceItems returns the demo evidence.
func EvidenceItems() []Evidence {
	return []Evidence{
		{ID: "00000000-0000-4000-8000-000000000401", ControlID: "00000000-0000-4000-8000-000000000301",
			Title: "SSO enforcement policy", Description: "Identity provider configuration export showing SSO and MFA enforced for all workforce accounts.",
			URL: "https://docs.acme.test/security/sso-policy.pdf", SubmittedBy: DemoUser.ID},
		{ID: "00000000-0000-4000-8000-000000000402", ControlID: "00000000-0000-4000-8000-000000000302",
			Title: "Access request tickets Q1", Description: "Sample of onboarding tickets with manager approval before account creation.",
			URL: "https://tickets.acme.test/reports/access-requests-q1", SubmittedBy: Alice.ID},
	}
}
