# METADATA
# title: Plan — which agencies and categories may be asked, which fields may be fetched, on what basis
# description: >-
#   Evaluated once per lookup before fan-out. Generic over the MoUs in mous/ (indexed by
#   requester, purpose, subject kind, provider and category in data.fedgate.registry.clauses_by_purpose for
#   the grants, and by requester and provider in data.fedgate.registry.clauses for the refusal
#   reasons) plus the limits in law.rego.
#   SAMPLE POLICY, NOT LEGAL ADVICE.
package fedgate.plan

import data.fedgate.registry as reg

# law.rego's rules are named by full path (data.fedgate.law.…), not through an import of the
# package: regorus evaluates every rule of an imported package, which cost a plan about a tenth
# of its time on the VM.

# METADATA
# title: Plan decision
# description: For every target agency, either grants by category (fields, decision fields, refer-only, legal bases) or one refusal.
# custom:
#   code: FG-PLAN
#   message: plan decision
#   provision: mous/*.yaml and law.rego
decision := {
	"bundle_digest": reg.bundle.digest,
	"agencies": _agencies,
}

_targets := {a | some a in input.agencies} if {
	is_array(input.agencies)
	count(input.agencies) > 0
}
else := {a | some a in reg.agencies}

# Request-level refusals apply to every target.
_request_refusal := "FG-MALFORMED-INPUT" if data.fedgate.law.malformed_plan_input
else := "FG-UNKNOWN-REQUESTER" if data.fedgate.law.unknown_requester
else := "FG-UNKNOWN-PURPOSE" if data.fedgate.law.unknown_purpose
else := "FG-EMERGENCY-REQUIRED" if data.fedgate.law.emergency_required

_agencies := {agency: _refuse(_request_refusal) | some agency in _targets} if _request_refusal

_agencies := _plans if not _request_refusal

_refuse(code) := {"refusal": {"code": code, "msg": data.fedgate.law.messages[code]}}

# Per-agency documents: the grants of every agency that grants something, one refusal for each
# other target. Complete rules built by comprehensions, computed once per decision and then only
# indexed: regorus mis-evaluated key lookups into partial object rules (see policies/README.md).
# An agency has grants only if it is known and holds a requested category (a grant is built from
# its category's entry in the register), so the refusals below cannot pre-empt a grant.
_plans := object.union(
	{agency: _refuse(_refusal_code(agency)) | some agency in _targets; not _grants[agency]},
	{agency: {"grants": grants} | some agency, grants in _grants},
)

_refusal_code(agency) := "FG-UNKNOWN-AGENCY" if not reg.categories[agency]
else := "FG-UNKNOWN-CATEGORY" if _holds_none_requested(agency)
else := _reason(agency)

# The agency holds none of the requested categories (only when categories are named).
_holds_none_requested(agency) if {
	count(input.categories) > 0
	count({c | some c in input.categories; reg.categories[agency][c]}) == 0
}

# Grants by agency, only for agencies that grant something: the requester's clauses for this
# purpose (the loader indexes them by requester, purpose, providing agency and category), limited
# to the categories named, if any. A clause applies when every other condition holds. Written
# inline (no helper calls, registers read once) because this runs for every offered clause of
# every target; the failure reasons below restate each condition separately, and the Rego tests
# check both agree.
_grants := grants if {
	offers := object.get(reg.clauses_by_purpose, [input.requester, input.purpose, input.subject_kind], {})
	categories := reg.categories
	subject := input.subject_kind
	today := input.today
	rank := reg.requesters[input.requester].clearance_rank

	# Only a flag that is true is an emergency; a missing one is none (as law.rego's emergency_required
	# reads it), and a malformed one never opens an emergency-only clause.
	emergency_allows := {false: true, true: object.get(input, "emergency", false) == true}

	# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
	law_allows := {"standard": true, "intelligence": input.purpose in data.fedgate.law.intelligence_purposes}

	grants := {agency: agency_grants |
		some agency in _targets
		agency_grants := {name: grant |
			some name, clauses in _requested(object.get(offers, agency, {}))
			applicable := [c |
				some c in clauses
				c.subject == subject
				today >= c.effective
				today <= c.expires
				c.min_clearance_rank <= rank
				emergency_allows[c.emergency_only]
				law_allows[c.holding]
			]
			count(applicable) > 0
			category := categories[agency][name]
			never := category.never_release

			# Intelligence holdings are referral only (law.rego), whatever a clause says;
			# otherwise a category is referral only if any applicable clause says so.
			intelligence := category.holding == "intelligence"
			grant := {
				"fields": sort({f | some c in applicable; some f in c.fields; not never[f]}),
				"decision_fields": category.decision_fields,
				"refer_only": true in ({c.refer_only | some c in applicable} | {intelligence}),
				"bases": [c.basis | some c in applicable],
			}
		}
		count(agency_grants) > 0
	}
}

# An agency's offered clauses by category, limited to the categories named, if any.
_requested(offered) := offered if count(input.categories) == 0

_requested(offered) := object.filter(offered, input.categories) if count(input.categories) > 0

# --- why an agency grants nothing (worked out only then) ---------------------------------------

# The candidate clauses: all the requester's clauses from this agency, whatever their purpose,
# limited to the categories named, if any (the requester's clauses are indexed by providing agency).
_candidates(agency) := object.get(object.get(reg.clauses, input.requester, {}), agency, []) if count(input.categories) == 0

_candidates(agency) := [c |
	some c in object.get(object.get(reg.clauses, input.requester, {}), agency, [])
	c.category in input.categories
] if count(input.categories) > 0

# The most fundamental reason, in _reason_order, that any candidate clause fails on; with no
# candidate clause at all (or none failing), there is no agreement.
_reason(agency) := ordered[0] if {
	failing := _failing(_candidates(agency))
	ordered := array.concat([code | some code in _reason_order; count(failing[code]) > 0], ["FG-NO-AGREEMENT"])
}

# Every reason one clause does not apply to this request (empty: it applies).
_failures(c) := {code | some code, failing in _failing([c]); count(failing) > 0}

# For each reason, the clauses that fail the condition it names. Each condition restates one line
# of the inline check in _grants; the Rego tests check both agree at every boundary.
# (input.purpose is defined here: an unknown or missing purpose is refused for every agency first.)
_failing(clauses) := {
	# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
	"FG-LAW-INTELLIGENCE-PURPOSE": [c |
		some c in clauses
		c.holding == "intelligence"
		not data.fedgate.law.intelligence_purposes[purpose]
	],
	"FG-PURPOSE-NOT-COVERED": [c | some c in clauses; not c.purposes[purpose]],
	"FG-SUBJECT-NOT-COVERED": [c | some c in clauses; c.subject != input.subject_kind],
	# An agreement applies from its effective date to its expiry date, both inclusive.
	"FG-MOU-NOT-IN-FORCE": [c | some c in clauses; _outside(c.effective, c.expires, input.today)],
	"FG-EMERGENCY-ONLY": [c | some c in clauses; c.emergency_only; not input.emergency],
	"FG-CLEARANCE": [c | some c in clauses; c.min_clearance_rank > rank],
} if {
	purpose := input.purpose
	rank := data.fedgate.registry.requesters[input.requester].clearance_rank
}

_outside(effective, _, today) if today < effective

_outside(_, expires, today) if today > expires

_reason_order := [
	"FG-LAW-INTELLIGENCE-PURPOSE",
	"FG-PURPOSE-NOT-COVERED",
	"FG-SUBJECT-NOT-COVERED",
	"FG-MOU-NOT-IN-FORCE",
	"FG-EMERGENCY-ONLY",
	"FG-CLEARANCE",
]
