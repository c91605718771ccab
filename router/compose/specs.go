package compose

// Spec URLs and the definitions Apollo's composition writes into a supergraph.

const (
	linkURL = "https://specs.apollo.dev/link/v1.0"

	linkDirective    = `directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA`
	joinGraphDir     = `directive @join__graph(name: String!, url: String!) on ENUM_VALUE`
	joinImplementDir = `directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE`
	joinTypeDir      = `directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR`
	joinUnionDir     = `directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION`
	joinEnumDir      = `directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE`
	joinDirectiveDir = `directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION`

	linkPurposeEnum = "enum link__Purpose {\n" +
		"  \"\"\"\n  `SECURITY` features provide metadata necessary to securely resolve fields.\n  \"\"\"\n  SECURITY\n\n" +
		"  \"\"\"\n  `EXECUTION` features provide metadata necessary for operation execution.\n  \"\"\"\n  EXECUTION\n}"

	joinContextArgumentInput = "input join__ContextArgument {\n  name: String!\n  type: String!\n  context: String!\n  selection: join__FieldValue!\n}"
)

// joinSpec describes one version of the join spec.
type joinSpec struct {
	minor int // 3, 4 or 5
}

func (j joinSpec) url() string {
	return "https://specs.apollo.dev/join/v0." + string(rune('0'+j.minor))
}

// joinFieldArgs lists the @join__field arguments in definition order (the order they print).
func (j joinSpec) joinFieldArgs() []string {
	args := []string{"graph", "requires", "provides", "type", "external", "override", "usedOverridden"}
	if j.minor >= 4 {
		args = append(args, "overrideLabel")
	}
	if j.minor >= 5 {
		args = append(args, "contextArguments")
	}
	return args
}

func (j joinSpec) fieldDirective() string {
	s := `directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean`
	if j.minor >= 4 {
		s += `, overrideLabel: String`
	}
	if j.minor >= 5 {
		s += `, contextArguments: [join__ContextArgument!]`
	}
	return s + `) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION`
}

// joinSpecFor returns the join spec version Apollo picks for the newest federation
// version used by the subgraphs: 2.0–2.6 → v0.3, 2.7 → v0.4, 2.8+ → v0.5.
func joinSpecFor(fedMinor int) joinSpec {
	switch {
	case fedMinor >= 8:
		return joinSpec{minor: 5}
	case fedMinor >= 7:
		return joinSpec{minor: 4}
	default:
		return joinSpec{minor: 3}
	}
}

// composedSpec is a spec whose directives are copied into the supergraph (@tag,
// @inaccessible, @authenticated, @requiresScopes, @policy), in the order Apollo adds them.
type composedSpec struct {
	name       string // canonical directive name
	url        string
	purpose    string // "" or SECURITY
	definition string
	extraTypes []printedDef // spec scalars, e.g. requiresScopes__Scope
	repeatable bool
}

type printedDef struct {
	name string
	text string
}

var composedSpecs = []composedSpec{
	{
		name: "tag", url: "https://specs.apollo.dev/tag/v0.3", repeatable: true,
		definition: `directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA`,
	},
	{
		name: "inaccessible", url: "https://specs.apollo.dev/inaccessible/v0.2", purpose: "SECURITY",
		definition: `directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION`,
	},
	{
		name: "authenticated", url: "https://specs.apollo.dev/authenticated/v0.1", purpose: "SECURITY",
		definition: `directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM`,
	},
	{
		name: "requiresScopes", url: "https://specs.apollo.dev/requiresScopes/v0.1", purpose: "SECURITY",
		definition: `directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM`,
		extraTypes: []printedDef{{name: "requiresScopes__Scope", text: "scalar requiresScopes__Scope"}},
	},
	{
		name: "policy", url: "https://specs.apollo.dev/policy/v0.1", purpose: "SECURITY",
		definition: `directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM`,
		extraTypes: []printedDef{{name: "policy__Policy", text: "scalar policy__Policy"}},
	},
	// The cost spec has two directives: @cost is named after the spec, @listSize
	// is imported (printed as one @link; see printSchemaDefinition).
	{
		name: "cost", url: costURL,
		definition: `directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR`,
	},
	{
		name: "listSize", url: costURL,
		definition: `directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION`,
	},
}

const costURL = "https://specs.apollo.dev/cost/v0.1"

func composedSpecByName(name string) *composedSpec {
	for i := range composedSpecs {
		if composedSpecs[i].name == name {
			return &composedSpecs[i]
		}
	}
	return nil
}

// federationDirectives are the directive names of the federation spec (v1 and v2.x).
var federationDirectives = map[string]bool{
	"key": true, "requires": true, "provides": true, "external": true, "tag": true,
	"extends": true, "shareable": true, "inaccessible": true, "override": true,
	"composeDirective": true, "interfaceObject": true, "authenticated": true,
	"requiresScopes": true, "policy": true, "context": true, "fromContext": true,
	"cost": true, "listSize": true,
}
