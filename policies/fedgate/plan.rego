# METADATA
# title: Plan — which agencies and categories may be asked, which fields may be fetched, on what basis
# description: >-
#   Evaluated once per lookup before fan-out. Generic over the MoUs in mous/ (indexed by
#   requester, purpose, provider and category in data.fedgate.registry.clauses_by_purpose for
#   the grants, and by requester and provider in data.fedgate.registry.clauses for the refusal
#   reasons) plus the limits in law.rego.
#   SAMPLE POLICY, NOT LEGAL ADVICE.
package fedgate.plan

import data.fedgate.law
import data.fedgate.registry as reg

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
_request_refusal := "FG-MALFORMED-INPUT" if law.malformed_plan_input
else := "FG-UNKNOWN-REQUESTER" if law.unknown_requester
else := "FG-UNKNOWN-PURPOSE" if law.unknown_purpose
else := "FG-EMERGENCY-REQUIRED" if law.emergency_required

_agencies := {agency: _refuse(_request_refusal) | some agency in _targets} if _request_refusal

_agencies := _plans if not _request_refusal

_refuse(code) := {"refusal": {"code": code, "msg": law.messages[code]}}

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
	offers := object.get(object.get(reg.clauses_by_purpose, input.requester, {}), input.purpose, {})
	categories := reg.categories
	subject := input.subject_kind
	today := input.today
	rank := reg.requesters[input.requester].clearance_rank

	# Only a flag that is true is an emergency; a missing one is none (as law.emergency_required
	# reads it), and a malformed one never opens an emergency-only clause.
	emergency_allows := {false: true, true: object.get(input, "emergency", false) == true}

	# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
	law_allows := {"standard": true, "intelligence": input.purpose in law.intelligence_purposes}

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

# The most fundamental reason, in _reason_order, among the candidate clauses' failures; with no
# candidate clause at all, there is no agreement.
_reason(agency) := reasons[0] if {
	failures := {code | some c in _candidates(agency); some code in _failures(c)}
	reasons := array.concat([code | some code in _reason_order; failures[code]], ["FG-NO-AGREEMENT"])
}

_reason_order := [
	"FG-LAW-INTELLIGENCE-PURPOSE",
	"FG-PURPOSE-NOT-COVERED",
	"FG-SUBJECT-NOT-COVERED",
	"FG-MOU-NOT-IN-FORCE",
	"FG-EMERGENCY-ONLY",
	"FG-CLEARANCE",
]

# Every reason a clause does not apply to this request (empty: it applies). Clause entries
# carry their category's subject and holding (the loader copies them into the index), so
# each check reads the clause, the input and the registers only.
_failures(c) := (((((_f_intelligence(c) | _f_purpose(c)) | _f_subject(c)) | _f_in_force(c)) | _f_emergency(c)) | _f_clearance(c))

# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
_f_intelligence(c) := {"FG-LAW-INTELLIGENCE-PURPOSE" |
	c.holding == "intelligence"
	purpose := input.purpose
	not law.intelligence_purposes[purpose]
}

# (input.purpose is defined here: an unknown or missing purpose is refused for every agency first.)
_f_purpose(c) := {"FG-PURPOSE-NOT-COVERED" | purpose := input.purpose; not c.purposes[purpose]}

_f_subject(c) := {"FG-SUBJECT-NOT-COVERED" | c.subject != input.subject_kind}

# An agreement applies from its effective date to its expiry date, both inclusive.
_f_in_force(c) := {"FG-MOU-NOT-IN-FORCE" | input.today < c.effective} | {"FG-MOU-NOT-IN-FORCE" | input.today > c.expires}

_f_emergency(c) := {"FG-EMERGENCY-ONLY" | c.emergency_only; not input.emergency}

_f_clearance(c) := {"FG-CLEARANCE" | c.min_clearance_rank > reg.requesters[input.requester].clearance_rank}
