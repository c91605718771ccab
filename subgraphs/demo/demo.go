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

// The demo project, owned by DemoUser: SOC 2 and ISO/IEC 27001 mapped onto
// one set of controls.
const (
	ProjectID          = "00000000-0000-4000-8000-000000000201"
	ProjectName        = "SOC 2 Type II and ISO 27001 Readiness"
	ProjectDescription = "One control set for the AICPA 2017 Trust Services Criteria (Security) ahead of a SOC 2 Type II window, and for ISO/IEC 27001:2022 certification."
)

// Framework keys of the catalog the demo project has in scope.
const (
	SOC2     = "SOC2"
	ISO27001 = "ISO27001"
)

// Frameworks are the keys of the frameworks in the demo project's scope.
func Frameworks() []string { return []string{SOC2, ISO27001} }

// Ref names a catalog requirement by framework key and code.
type Ref struct {
	Framework string
	Code      string
}

// A demo control of the demo project.
type Control struct {
	ID           string
	Code         string
	Title        string
	Description  string
	Status       string // NOT_STARTED | IN_PROGRESS | IMPLEMENTED | NOT_APPLICABLE
	Requirements []Ref
}

func soc2(codes ...string) []Ref { return refs(SOC2, codes) }
func iso(codes ...string) []Ref  { return refs(ISO27001, codes) }

func refs(fw string, codes []string) []Ref {
	out := make([]Ref, len(codes))
	for i, c := range codes {
		out[i] = Ref{Framework: fw, Code: c}
	}
	return out
}

// Controls returns the demo controls, each mapped to SOC 2 criteria and
// ISO/IEC 27001:2022 Annex A controls.
func Controls() []Control {
	return []Control{
		{ID: "00000000-0000-4000-8000-000000000311", Code: "AC-01", Title: "Access provisioning and removal", Status: "IMPLEMENTED",
			Description:  "Access is granted on an approved request, reviewed quarterly and removed within one business day of a role change or departure.",
			Requirements: append(soc2("CC6.1", "CC6.2", "CC6.3"), iso("A.5.15", "A.5.16", "A.5.18")...)},
		{ID: "00000000-0000-4000-8000-000000000312", Code: "AC-02", Title: "Single sign-on with multi-factor authentication", Status: "IMPLEMENTED",
			Description:  "Every workforce account signs in through the identity provider with phishing-resistant MFA enforced.",
			Requirements: append(soc2("CC6.1", "CC6.6"), iso("A.5.17", "A.8.5")...)},
		{ID: "00000000-0000-4000-8000-000000000313", Code: "CR-01", Title: "Encryption at rest and in transit", Status: "IMPLEMENTED",
			Description:  "Customer data is encrypted at rest with managed keys and in transit with TLS 1.2 or later.",
			Requirements: append(soc2("CC6.1", "CC6.7"), iso("A.8.24")...)},
		{ID: "00000000-0000-4000-8000-000000000314", Code: "OP-01", Title: "Centralized logging and monitoring", Status: "IMPLEMENTED",
			Description:  "Production logs are centralized, retained for a year and alert on anomalies, with on-call triage.",
			Requirements: append(soc2("CC7.2", "CC7.3"), iso("A.8.15", "A.8.16")...)},
		{ID: "00000000-0000-4000-8000-000000000315", Code: "OP-02", Title: "Vulnerability management", Status: "IN_PROGRESS",
			Description:  "Weekly scans of hosts and dependencies; critical findings fixed within 14 days.",
			Requirements: append(soc2("CC7.1"), iso("A.8.8")...)},
		{ID: "00000000-0000-4000-8000-000000000316", Code: "CM-01", Title: "Change management", Status: "IMPLEMENTED",
			Description:  "Every production change is reviewed, tested in CI and approved before deployment.",
			Requirements: append(soc2("CC8.1"), iso("A.8.25", "A.8.32")...)},
		{ID: "00000000-0000-4000-8000-000000000317", Code: "IR-01", Title: "Incident response plan", Status: "IMPLEMENTED",
			Description:  "A tested incident response plan with severity levels, roles and customer communication.",
			Requirements: append(soc2("CC7.4", "CC7.5"), iso("A.5.24", "A.5.26")...)},
		{ID: "00000000-0000-4000-8000-000000000318", Code: "VM-01", Title: "Vendor risk management", Status: "NOT_STARTED",
			Description:  "Vendors handling customer data are assessed before onboarding and yearly.",
			Requirements: append(soc2("CC9.2"), iso("A.5.19")...)},
		{ID: "00000000-0000-4000-8000-000000000319", Code: "GV-01", Title: "Information security policy", Status: "IMPLEMENTED",
			Description:  "A security policy approved by management, published to staff and reviewed yearly.",
			Requirements: append(soc2("CC1.1", "CC5.3"), iso("A.5.1")...)},
		{ID: "00000000-0000-4000-8000-000000000320", Code: "HR-01", Title: "Security awareness training", Status: "IMPLEMENTED",
			Description:  "Training at onboarding and yearly, with phishing exercises.",
			Requirements: append(soc2("CC1.4", "CC2.2"), iso("A.6.3")...)},
		{ID: "00000000-0000-4000-8000-000000000321", Code: "BC-01", Title: "Backups and recovery testing", Status: "IN_PROGRESS",
			Description:  "Daily encrypted backups; restores tested every quarter.",
			Requirements: append(soc2("CC7.5", "CC9.1"), iso("A.5.30", "A.8.13")...)},
	}
}

// A demo evidence item. Expiry is relative to when the seed runs.
type Evidence struct {
	ID          string
	ControlID   string
	Title       string
	Description string
	URL         string
	SubmittedBy string // user id
	Owner       string // user id
	Status      string // PENDING | ACCEPTED | REJECTED (reviewed by DemoUser)
	// ExpiresInDays sets the expiry this many days after the seed (negative:
	// already expired); nil: never expires.
	ExpiresInDays *int
}

func days(n int) *int { return &n }

// EvidenceItems returns the demo evidence: some accepted, some pending, two
// expiring within 30 days, one expired and one rejected.
func EvidenceItems() []Evidence {
	return []Evidence{
		{ID: "00000000-0000-4000-8000-000000000411", ControlID: "00000000-0000-4000-8000-000000000311",
			Title: "Quarterly access review Q3", Description: "Signed-off review of every production account and its approver.",
			URL: "https://docs.acme.test/security/access-review-q3.pdf", SubmittedBy: Alice.ID, Owner: Alice.ID, Status: "ACCEPTED", ExpiresInDays: days(75)},
		{ID: "00000000-0000-4000-8000-000000000412", ControlID: "00000000-0000-4000-8000-000000000312",
			Title: "SSO and MFA enforcement export", Description: "Identity provider configuration export showing SSO and MFA enforced for all workforce accounts.",
			URL: "https://docs.acme.test/security/sso-policy.pdf", SubmittedBy: DemoUser.ID, Owner: DemoUser.ID, Status: "ACCEPTED", ExpiresInDays: days(12)},
		{ID: "00000000-0000-4000-8000-000000000413", ControlID: "00000000-0000-4000-8000-000000000313",
			Title: "KMS and TLS configuration", Description: "Key management settings and the load balancers' TLS policy.",
			URL: "https://docs.acme.test/security/encryption.pdf", SubmittedBy: Bob.ID, Owner: Bob.ID, Status: "ACCEPTED"},
		{ID: "00000000-0000-4000-8000-000000000414", ControlID: "00000000-0000-4000-8000-000000000314",
			Title: "Alerting runbook and on-call report", Description: "Alert rules, the on-call rota and last quarter's triage report.",
			URL: "https://docs.acme.test/ops/monitoring-report.pdf", SubmittedBy: Bob.ID, Owner: Bob.ID, Status: "ACCEPTED", ExpiresInDays: days(-10)},
		{ID: "00000000-0000-4000-8000-000000000415", ControlID: "00000000-0000-4000-8000-000000000315",
			Title: "Vulnerability scan summary", Description: "Last month's scan results and open findings.",
			URL: "https://docs.acme.test/ops/vuln-scan.pdf", SubmittedBy: Alice.ID, Owner: Alice.ID, Status: "PENDING"},
		{ID: "00000000-0000-4000-8000-000000000416", ControlID: "00000000-0000-4000-8000-000000000316",
			Title: "Change approvals sample", Description: "Sample of merged changes with their reviews and CI runs.",
			URL: "https://git.acme.test/reports/change-approvals", SubmittedBy: Alice.ID, Owner: Alice.ID, Status: "ACCEPTED", ExpiresInDays: days(25)},
		{ID: "00000000-0000-4000-8000-000000000417", ControlID: "00000000-0000-4000-8000-000000000317",
			Title: "Incident response tabletop", Description: "Minutes of the yearly tabletop exercise.",
			URL: "https://docs.acme.test/security/ir-tabletop.pdf", SubmittedBy: DemoUser.ID, Owner: DemoUser.ID, Status: "PENDING"},
		{ID: "00000000-0000-4000-8000-000000000418", ControlID: "00000000-0000-4000-8000-000000000319",
			Title: "Information security policy v4", Description: "The policy as approved by the leadership team.",
			URL: "https://docs.acme.test/policies/infosec-v4.pdf", SubmittedBy: DemoUser.ID, Owner: DemoUser.ID, Status: "ACCEPTED", ExpiresInDays: days(200)},
		{ID: "00000000-0000-4000-8000-000000000419", ControlID: "00000000-0000-4000-8000-000000000320",
			Title: "Training completion report", Description: "Completion of this year's awareness training by employee.",
			URL: "https://hr.acme.test/reports/training", SubmittedBy: Alice.ID, Owner: Bob.ID, Status: "ACCEPTED", ExpiresInDays: days(90)},
		{ID: "00000000-0000-4000-8000-000000000420", ControlID: "00000000-0000-4000-8000-000000000321",
			Title: "Restore test screenshot", Description: "A screenshot of a restore, without the restored data's checksum.",
			URL: "https://docs.acme.test/ops/restore.png", SubmittedBy: Bob.ID, Owner: Bob.ID, Status: "REJECTED"},
	}
}

// The demo project's chat session (ai subgraph), started by DemoUser, and
// the question its first answer grounds in the project's controls and
// evidence.
const (
	ChatSessionID    = "00000000-0000-4000-8000-000000000601"
	ChatSessionTitle = "Access reviews and MFA"
	ChatQuestion     = "Which controls cover multi-factor authentication and access reviews, and is their evidence current?"
	ChatQuestionID   = "00000000-0000-4000-8000-000000000611"
	ChatAnswerID     = "00000000-0000-4000-8000-000000000612"
)

// The demo's policy document: the information security policy as a PDF
// (written at seed time), uploaded through the documents subgraph's upload
// path, linked to the evidence "Information security policy v4" and
// processed into chunks by the documents worker.
const (
	PolicyDocumentID         = "00000000-0000-4000-8000-000000000501"
	PolicyDocumentEvidenceID = "00000000-0000-4000-8000-000000000418"
	PolicyDocumentFilename   = "infosec-policy-v4.pdf"
	PolicyDocumentTitle      = "Acme Corp Information Security Policy (version 4)"
)

// PolicyDocumentPages returns the paragraphs of each page of the demo policy.
func PolicyDocumentPages() [][]string {
	return [][]string{
		{
			"1. Purpose. This policy sets how Acme Corp protects the confidentiality, integrity and availability of customer data and of the systems that process it. It is approved by the leadership team and reviewed every year.",
			"2. Scope. It applies to every employee, contractor and system of Acme Corp, in every environment: production, staging and corporate IT.",
			"3. Roles. The security lead owns this policy. System owners implement it for their systems and keep the evidence of its controls current.",
		},
		{
			"4. Access control. Access to production is granted by ticket, approved by the system owner, and limited to what the role needs. Every production account is reviewed every quarter; access no longer needed is removed within two working days.",
			"5. Authentication. Workforce accounts sign in through single sign-on with multi-factor authentication. Shared accounts are not allowed; service accounts have owners.",
			"6. Encryption. Customer data is encrypted at rest with keys held in the key management service and in transit with TLS 1.2 or later.",
		},
		{
			"7. Backups. Production databases are backed up daily, encrypted, and kept for thirty-five days. A restore is tested every quarter and its result recorded.",
			"8. Incident response. Security incidents are reported to the on-call engineer at once, triaged within one hour and reviewed afterwards; a tabletop exercise is held every year.",
			"9. Exceptions. An exception to this policy needs the security lead's written approval, a compensating control and an expiry date.",
		},
	}
}
