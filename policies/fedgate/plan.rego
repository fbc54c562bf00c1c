# METADATA
# title: Plan — which agencies and categories may be asked, which fields may be fetched, on what basis
# description: >-
#   Evaluated once per lookup before fan-out. Generic over the MoUs in mous/ (indexed by
#   requester and provider in data.fedgate.registry.clauses) plus the limits in law.rego.
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

# Per-agency documents. Each is a complete rule built by one comprehension, computed once per
# decision and then only indexed: regorus mis-evaluated key lookups into partial object rules
# (data.fedgate.plan._plans.customs differed from data.fedgate.plan._plans["customs"] taken from
# the whole object), which the conformance suite against OPA caught; see policies/README.md.
_plans := {agency: plan |
	some agency in _targets
	plan := _plan_for(agency)
}

_plan_for(agency) := _refuse("FG-UNKNOWN-AGENCY") if not reg.categories[agency]
else := _refuse("FG-UNKNOWN-CATEGORY") if _holds_none_requested[agency]
else := {"grants": _grants[agency]} if count(_grants[agency]) > 0
else := _refuse(_first_reason[agency]) if _first_reason[agency]
else := _refuse("FG-NO-AGREEMENT")

# Agencies that hold none of the requested categories (only when categories are named).
_holds_none_requested := {agency: true |
	count(input.categories) > 0
	some agency in _targets
	count({c | some c in input.categories; reg.categories[agency][c]}) == 0
}

# The requester's clauses, indexed by providing agency (the loader builds the index).
_mine := object.get(reg.clauses, input.requester, {})

_candidates := {agency: object.get(_mine, agency, []) | some agency in _targets} if count(input.categories) == 0
else := {agency: [c | some c in object.get(_mine, agency, []); c.category in input.categories] | some agency in _targets}

# A clause applies when every condition holds. Written inline (no helper calls) because this
# runs for every indexed clause of every target; the failure reasons below restate each
# condition separately, and the Rego tests check both agree.
_applicable := {agency: [c |
	some c in candidates
	c.purposes[_purpose]
	c.subject == input.subject_kind
	input.today >= c.effective
	input.today <= c.expires
	c.min_clearance_rank <= _rank
	_emergency_allows[c.emergency_only]
	_law_allows[c.holding]
] |
	some agency, candidates in _candidates
}

_emergency_allows := {false: true, true: _is_emergency}

# A missing emergency flag is no emergency (as law.emergency_required reads it).
_is_emergency := true if input.emergency == true
else := false

# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
_law_allows := {"standard": true, "intelligence": _purpose in law.intelligence_purposes}

# Failures are worked out only for agencies that grant nothing, to name the reason.
_candidate_failures := {agency: fs |
	some agency, candidates in _candidates
	count(_applicable[agency]) == 0
	fs := [_failures(c) | some c in candidates]
}

_rank := reg.requesters[input.requester].clearance_rank

_purpose := input.purpose

# Every reason a clause does not apply to this request (empty: it applies). Clause entries
# carry their category's subject and holding (the loader copies them into the index), so
# each check reads the clause, the input and the registers only.
_failures(c) := (((((_f_intelligence(c) | _f_purpose(c)) | _f_subject(c)) | _f_in_force(c)) | _f_emergency(c)) | _f_clearance(c))

# Intelligence holdings only for national-security purposes (law.rego), whatever an MoU says.
_f_intelligence(c) := {"FG-LAW-INTELLIGENCE-PURPOSE" |
	c.holding == "intelligence"
	purpose := _purpose
	not law.intelligence_purposes[purpose]
}

# (_purpose is defined here: an unknown or missing purpose is refused for every agency first.)
_f_purpose(c) := {"FG-PURPOSE-NOT-COVERED" | purpose := _purpose; not c.purposes[purpose]}

_f_subject(c) := {"FG-SUBJECT-NOT-COVERED" | c.subject != input.subject_kind}

# An agreement applies from its effective date to its expiry date, both inclusive.
_f_in_force(c) := {"FG-MOU-NOT-IN-FORCE" | input.today < c.effective} | {"FG-MOU-NOT-IN-FORCE" | input.today > c.expires}

_f_emergency(c) := {"FG-EMERGENCY-ONLY" | c.emergency_only; not input.emergency}

_f_clearance(c) := {"FG-CLEARANCE" | c.min_clearance_rank > _rank}

_grants := {agency: grants |
	some agency, applicable in _applicable
	grants := {name: _grant(agency, name, applicable) | some c in applicable; name := c.category}
}

_grant(agency, name, applicable) := {
	"fields": sort({f |
		some c in same
		some f in c.fields
		not category.never_release[f]
	}),
	"decision_fields": category.decision_fields,
	"refer_only": _refer_only(category, same),
	"bases": [c.basis | some c in same],
} if {
	category := reg.categories[agency][name]
	same := [c | some c in applicable; c.category == name]
}

_refer_only(category, same) := true if category.holding == "intelligence"
else := true if {
	some c in same
	c.refer_only
}
else := false

# The most fundamental reason, in this order, among the candidate clauses' failures.
_reason_order := [
	"FG-LAW-INTELLIGENCE-PURPOSE",
	"FG-PURPOSE-NOT-COVERED",
	"FG-SUBJECT-NOT-COVERED",
	"FG-MOU-NOT-IN-FORCE",
	"FG-EMERGENCY-ONLY",
	"FG-CLEARANCE",
]

_first_reason := {agency: _reason_order[i] |
	some agency, failures in _candidate_failures
	reasons := {code | some f in failures; some code in f}
	ranks := {j | some j, code in _reason_order; code in reasons}
	count(ranks) > 0
	i := min(ranks)
}
