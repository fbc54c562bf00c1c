# Tests for plan.rego: refusal codes and their precedence, validity dates, conditions, grants.
# SAMPLE POLICY, NOT LEGAL ADVICE. Dates are fixed; no test reads the real today.
# Synthetic clauses (data.fedgate.registry.clauses replaced with `with`) isolate one condition at
# a time; the MoU files themselves are exercised in mous_test.rego.
package fedgate.plan_test

import data.fedgate.law
import data.fedgate.plan
import data.fedgate.registry as reg

_base := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"subject_kind": "person",
	"emergency": false,
	"agencies": [],
	"categories": [],
	"today": "2025-06-01",
}

# The base input with some keys replaced.
_in(over) := {k: object.get(over, k, v) | some k, v in _base}

_plan(over) := d if {
	d := plan.decision with input as _in(over)
}

# The plan with the requester's (customs') clauses replaced: {provider: [clause, ...]}.
_plan_with(over, clauses) := d if {
	d := _plan_indexed(_in(over), {"customs": clauses})
}

# The plan for an input with the clause index replaced: {requester: {provider: [clause, ...]}}.
# The loader indexes the same clause entries twice (by requester and provider, and by requester,
# purpose, provider and category); a synthetic index replaces both, built as the loader does.
_plan_indexed(inp, clauses) := d if {
	by_purpose := _by_purpose(clauses)
	d := plan.decision with input as inp
		with data.fedgate.registry.clauses as clauses
		with data.fedgate.registry.clauses_by_purpose as by_purpose
}

# {requester: {provider: [clause]}} ->
# {requester: {purpose: {subject kind: {provider: {category: [clause]}}}}}, every list in the
# original order.
_by_purpose(clauses) := {requester: _purposes_of(by_provider) | some requester, by_provider in clauses}

_purposes_of(by_provider) := {purpose: _subjects_for(by_provider, purpose) |
	some list in by_provider
	some c in list
	some purpose, _ in c.purposes
}

_subjects_for(by_provider, purpose) := {subject: _providers_for(by_provider, purpose, subject) |
	some list in by_provider
	some c in list
	c.purposes[purpose]
	subject := c.subject
}

_providers_for(by_provider, purpose, subject) := {provider: _categories_for(list, purpose, subject) |
	some provider, list in by_provider
	some c in list
	c.purposes[purpose]
	c.subject == subject
}

_categories_for(list, purpose, subject) := {name: [x |
	some x in list
	x.purposes[purpose]
	x.subject == subject
	x.category == name
] |
	some c in list
	c.purposes[purpose]
	c.subject == subject
	name := c.category
}

test_loader_indexes_the_clauses_by_purpose_as_the_tests_do if {
	reg.clauses_by_purpose == _by_purpose(reg.clauses)
}

_code(d, agency) := d.agencies[agency].refusal.code

# A synthetic clause, as the loader indexes one: police alerts for customs, in force all of 2025,
# for border risk assessment of persons, no conditions. Tests override one key at a time.
_clause := {
	"mou_id": "TEST-MOU-A",
	"subject": "person",
	"holding": "standard",
	"clause": "1.1",
	"category": "police_alert",
	"fields": ["raised_on", "alert_type"],
	"purposes": {"BORDER_RISK_ASSESSMENT": true},
	"statutes": ["Test Act 2025 s 1"],
	"effective": "2025-01-01",
	"expires": "2025-12-31",
	"min_clearance_rank": 0,
	"emergency_only": false,
	"refer_only": false,
	"basis": {"mou_id": "TEST-MOU-A", "clause": "1.1", "statutes": ["Test Act 2025 s 1"], "code": "FG-ALLOW-MOU"},
}

_c(over) := {k: object.get(over, k, v) | some k, v in _clause}

# Every way the synthetic clause can fail, one override per reason, in the documented order.
_fail_intelligence := {"holding": "intelligence"}

_fail_purpose := {"purposes": {"LAW_ENFORCEMENT": true}}

_fail_subject := {"subject": "vessel"}

_fail_in_force := {"effective": "2026-01-01", "expires": "2026-12-31"}

_fail_emergency := {"emergency_only": true}

_fail_clearance := {"min_clearance_rank": 4} # customs' system is RESTRICTED (rank 3)

_police := {"agencies": ["police"]}

# --- request-level refusals and their precedence -----------------------------------------------

test_malformed_input_refuses_every_agency if {
	bad := [
		{"agencies": "police"},
		{"categories": {"visa": true}},
		{"today": 20250601},
		{"requester": null},
		{"purpose": ["BORDER_RISK_ASSESSMENT"]},
		{"subject_kind": 1},
	]
	every over in bad {
		d := _plan(over)
		count(d.agencies) == 6
		every _, entry in d.agencies {
			entry == {"refusal": {"code": "FG-MALFORMED-INPUT", "msg": law.messages["FG-MALFORMED-INPUT"]}}
		}
	}
}

test_malformed_input_missing_keys if {
	every key in ["requester", "purpose", "subject_kind", "agencies", "categories", "today"] {
		d := plan.decision with input as object.remove(_base, [key])
		every _, entry in d.agencies {
			entry.refusal.code == "FG-MALFORMED-INPUT"
		}
	}
}

test_malformed_before_unknown_requester if {
	# (an object, not a string: see release_test.rego, test_malformed_input_withheld)
	d := _plan({"requester": "atlantis", "categories": {"visa": true}, "agencies": ["police"]})
	_code(d, "police") == "FG-MALFORMED-INPUT"
}

test_unknown_requester_refuses_every_agency if {
	d := _plan({"requester": "atlantis"})
	count(d.agencies) == 6
	every _, entry in d.agencies {
		entry == {"refusal": {"code": "FG-UNKNOWN-REQUESTER", "msg": law.messages["FG-UNKNOWN-REQUESTER"]}}
	}
}

test_unknown_requester_before_unknown_purpose if {
	d := _plan({"requester": "atlantis", "purpose": "CURIOSITY"})
	_code(d, "police") == "FG-UNKNOWN-REQUESTER"
}

test_unknown_requester_before_emergency_required if {
	d := _plan({"requester": "atlantis", "purpose": "SERIOUS_THREAT"})
	_code(d, "customs") == "FG-UNKNOWN-REQUESTER"
}

test_unknown_purpose_refuses_every_agency if {
	d := _plan({"purpose": "CURIOSITY"})
	count(d.agencies) == 6
	every _, entry in d.agencies {
		entry == {"refusal": {"code": "FG-UNKNOWN-PURPOSE", "msg": law.messages["FG-UNKNOWN-PURPOSE"]}}
	}
}

test_emergency_required_refuses_every_agency if {
	d := _plan({"requester": "police", "purpose": "SERIOUS_THREAT"})
	count(d.agencies) == 6
	every _, entry in d.agencies {
		entry.refusal.code == "FG-EMERGENCY-REQUIRED"
	}
}

test_request_refusal_names_unknown_agencies_too if {
	d := _plan({"purpose": "CURIOSITY", "agencies": ["atlantis"]})
	d.agencies == {"atlantis": {"refusal": {"code": "FG-UNKNOWN-PURPOSE", "msg": law.messages["FG-UNKNOWN-PURPOSE"]}}}
}

test_request_refusal_before_unknown_category if {
	d := _plan({"requester": "atlantis", "categories": ["tax_return"], "agencies": ["police"]})
	_code(d, "police") == "FG-UNKNOWN-REQUESTER"
}

# --- agency-level refusals and their precedence ----------------------------------------------

test_unknown_agency if {
	d := _plan({"agencies": ["atlantis", "police"]})
	_code(d, "atlantis") == "FG-UNKNOWN-AGENCY"
	d.agencies.police.grants.warrant
}

test_unknown_agency_before_unknown_category if {
	d := _plan({"agencies": ["atlantis"], "categories": ["tax_return"]})
	_code(d, "atlantis") == "FG-UNKNOWN-AGENCY"
}

test_agency_names_are_case_sensitive if {
	d := _plan({"agencies": ["Police"]})
	_code(d, "Police") == "FG-UNKNOWN-AGENCY"
}

test_unknown_category_refuses_every_agency if {
	d := _plan({"categories": ["tax_return"]})
	count(d.agencies) == 6
	every _, entry in d.agencies {
		entry == {"refusal": {"code": "FG-UNKNOWN-CATEGORY", "msg": law.messages["FG-UNKNOWN-CATEGORY"]}}
	}
}

test_category_held_by_another_agency_is_unknown_here if {
	d := _plan({"agencies": ["police", "immigration"], "categories": ["visa"]})
	_code(d, "police") == "FG-UNKNOWN-CATEGORY"
	{name | some name, _ in d.agencies.immigration.grants} == {"visa"}
}

test_unknown_category_before_no_agreement if {
	# customs holds no visas; it does hold seizures, but no agreement gives customs its own records
	_code(_plan({"agencies": ["customs"], "categories": ["visa"]}), "customs") == "FG-UNKNOWN-CATEGORY"
	_code(_plan({"agencies": ["customs"], "categories": ["seizure"]}), "customs") == "FG-NO-AGREEMENT"
}

test_one_held_category_is_enough if {
	d := _plan({"agencies": ["police"], "categories": ["warrant", "visa", "tax_return"]})
	{name | some name, _ in d.agencies.police.grants} == {"warrant"}
}

test_categories_restrict_the_grants if {
	d := _plan({"agencies": ["police"], "categories": ["warrant"]})
	{name | some name, _ in d.agencies.police.grants} == {"warrant"}
	all_ := _plan({"agencies": ["police"]})
	{name | some name, _ in all_.agencies.police.grants} == {"warrant", "police_alert"}
}

test_categories_restrict_the_candidate_clauses_for_the_reason if {
	# mpi's system is IN-CONFIDENCE; JBMS clause 3.4 (seizures) needs SENSITIVE.
	over := {"requester": "mpi", "purpose": "BIOSECURITY_RISK", "agencies": ["customs"]}
	_code(_plan(object.union(over, {"categories": ["seizure"]})), "customs") == "FG-CLEARANCE"
	d := _plan(over)
	d.agencies.customs.grants.travel_movement
	not d.agencies.customs.grants.seizure
}

test_no_agreement_with_the_requesters_own_agency if {
	_code(_plan({"agencies": ["customs"]}), "customs") == "FG-NO-AGREEMENT"
	_code(_plan({}), "customs") == "FG-NO-AGREEMENT"
}

test_no_agreement_between_two_agencies if {
	d := _plan({"requester": "maritime", "purpose": "MARITIME_SECURITY", "agencies": ["nzsis", "police"]})
	_code(d, "nzsis") == "FG-NO-AGREEMENT"
	_code(d, "police") == "FG-NO-AGREEMENT"
}

test_no_agreement_when_the_requester_has_no_clauses if {
	d := _plan_with(_police, {})
	d.agencies == {"police": {"refusal": {"code": "FG-NO-AGREEMENT", "msg": law.messages["FG-NO-AGREEMENT"]}}}
}

# --- output shape ------------------------------------------------------------------------------

test_exactly_one_entry_per_target_agency if {
	d := _plan({})
	{a | some a, _ in d.agencies} == {a | some a in reg.agencies}
	count(_plan({"agencies": ["police", "police"]}).agencies) == 1
	{a | some a, _ in _plan({"agencies": ["mpi", "nzsis"]}).agencies} == {"mpi", "nzsis"}
}

test_every_entry_is_grants_or_one_refusal if {
	every over in [{}, {"purpose": "NATIONAL_SECURITY"}, {"subject_kind": "vessel"}, {"requester": "police", "purpose": "LAW_ENFORCEMENT"}] {
		every _, entry in _plan(over).agencies {
			_entry_ok(entry)
		}
	}
}

_entry_ok(entry) if {
	{k | some k, _ in entry} == {"grants"}
	count(entry.grants) > 0
}

_entry_ok(entry) if {
	{k | some k, _ in entry} == {"refusal"}
	{k | some k, _ in entry.refusal} == {"code", "msg"}
	entry.refusal.msg == law.messages[entry.refusal.code]
}

test_decision_carries_the_bundle_digest if {
	d := _plan({})
	d.bundle_digest == reg.bundle.digest
	startswith(d.bundle_digest, "sha256:")
	{k | some k, _ in d} == {"agencies", "bundle_digest"}
}

test_grant_shape if {
	d := _plan(_police)
	d.agencies.police.grants.police_alert == {
		"fields": ["active", "alert_type", "raised_on"],
		"decision_fields": ["covert", "classification"],
		"refer_only": false,
		"bases": [{
			"mou_id": "SAMPLE-MOU-CUS-POL",
			"clause": "3.1",
			"statutes": ["Privacy Act 2020 s 22 IPP 11(1)(e)(i)"],
			"code": "FG-ALLOW-MOU",
		}],
	}
}

# --- reasons from the real MoUs --------------------------------------------------------------

test_reason_intelligence_purpose if {
	_code(_plan({"agencies": ["nzsis"]}), "nzsis") == "FG-LAW-INTELLIGENCE-PURPOSE"
}

test_reason_purpose_not_covered if {
	_code(_plan({"purpose": "NATIONAL_SECURITY", "agencies": ["police"]}), "police") == "FG-PURPOSE-NOT-COVERED"
}

test_reason_subject_not_covered if {
	_code(_plan({"subject_kind": "vessel", "agencies": ["police"]}), "police") == "FG-SUBJECT-NOT-COVERED"
}

test_reason_not_in_force_before_the_effective_day if {
	# SAMPLE-MOU-CUS-INZ: 2024-07-01 to 2027-06-30
	_code(_plan({"agencies": ["immigration"], "today": "2024-06-30"}), "immigration") == "FG-MOU-NOT-IN-FORCE"
}

test_reason_not_in_force_after_the_expiry_day if {
	_code(_plan({"agencies": ["immigration"], "today": "2027-07-01"}), "immigration") == "FG-MOU-NOT-IN-FORCE"
}

test_in_force_on_the_effective_day if {
	_plan({"agencies": ["immigration"], "today": "2024-07-01"}).agencies.immigration.grants.visa
}

test_in_force_on_the_expiry_day if {
	_plan({"agencies": ["immigration"], "today": "2027-06-30"}).agencies.immigration.grants.visa
}

test_reason_clearance_floor if {
	d := _plan({"requester": "mpi", "purpose": "BIOSECURITY_RISK", "agencies": ["customs"], "categories": ["seizure"]})
	d.agencies.customs == {"refusal": {"code": "FG-CLEARANCE", "msg": law.messages["FG-CLEARANCE"]}}
}

test_clearance_floor_met_exactly if {
	# SAMPLE-MOU-INZ-POL 2.2 needs SENSITIVE; immigration's system is SENSITIVE.
	d := _plan({"requester": "immigration", "purpose": "IMMIGRATION_COMPLIANCE", "agencies": ["police"]})
	d.agencies.police.grants.police_alert.bases[0].clause == "2.2"
}

# --- precedence of reasons (one synthetic clause failing in several ways) -----------------------

test_precedence_intelligence_first if {
	c := _c(object.union_n([_fail_intelligence, _fail_purpose, _fail_subject, _fail_in_force, _fail_emergency, _fail_clearance]))
	_code(_plan_with(_police, {"police": [c]}), "police") == "FG-LAW-INTELLIGENCE-PURPOSE"
}

test_precedence_purpose_before_subject if {
	c := _c(object.union_n([_fail_purpose, _fail_subject, _fail_in_force, _fail_emergency, _fail_clearance]))
	_code(_plan_with(_police, {"police": [c]}), "police") == "FG-PURPOSE-NOT-COVERED"
}

test_precedence_subject_before_in_force if {
	c := _c(object.union_n([_fail_subject, _fail_in_force, _fail_emergency, _fail_clearance]))
	_code(_plan_with(_police, {"police": [c]}), "police") == "FG-SUBJECT-NOT-COVERED"
}

test_precedence_in_force_before_emergency if {
	c := _c(object.union_n([_fail_in_force, _fail_emergency, _fail_clearance]))
	_code(_plan_with(_police, {"police": [c]}), "police") == "FG-MOU-NOT-IN-FORCE"
}

test_precedence_emergency_before_clearance if {
	c := _c(object.union(_fail_emergency, _fail_clearance))
	_code(_plan_with(_police, {"police": [c]}), "police") == "FG-EMERGENCY-ONLY"
}

test_precedence_clearance_last if {
	_code(_plan_with(_police, {"police": [_c(_fail_clearance)]}), "police") == "FG-CLEARANCE"
}

test_each_failure_alone_names_its_reason if {
	cases := [
		[_fail_intelligence, "FG-LAW-INTELLIGENCE-PURPOSE"],
		[_fail_purpose, "FG-PURPOSE-NOT-COVERED"],
		[_fail_subject, "FG-SUBJECT-NOT-COVERED"],
		[_fail_in_force, "FG-MOU-NOT-IN-FORCE"],
		[_fail_emergency, "FG-EMERGENCY-ONLY"],
		[_fail_clearance, "FG-CLEARANCE"],
	]
	every case in cases {
		_code(_plan_with(_police, {"police": [_c(case[0])]}), "police") == case[1]
	}
}

test_synthetic_clause_without_failures_grants if {
	d := _plan_with(_police, {"police": [_clause]})
	d.agencies.police.grants.police_alert.bases == [_clause.basis]
}

test_precedence_across_clauses_takes_the_most_fundamental if {
	# one clause fails only on clearance, another only on purpose: purpose is named
	clauses := [_c(_fail_clearance), _c(object.union(_fail_purpose, {"clause": "1.2"}))]
	_code(_plan_with(_police, {"police": clauses}), "police") == "FG-PURPOSE-NOT-COVERED"
}

test_precedence_across_clauses_subject_before_dates if {
	clauses := [_c(_fail_in_force), _c(object.union(_fail_subject, {"clause": "1.2"}))]
	_code(_plan_with(_police, {"police": clauses}), "police") == "FG-SUBJECT-NOT-COVERED"
}

test_one_applicable_clause_is_enough if {
	clauses := [_c(_fail_purpose), _c({"clause": "1.2", "basis": object.union(_clause.basis, {"clause": "1.2"})})]
	d := _plan_with(_police, {"police": clauses})
	d.agencies.police.grants.police_alert.bases == [object.union(_clause.basis, {"clause": "1.2"})]
}

test_reason_only_from_candidate_categories if {
	# the warrant clause fails on clearance, the alert clause on purpose; only warrants are asked for
	clauses := [_c(_fail_purpose), _c(object.union(_fail_clearance, {"clause": "1.2", "category": "warrant", "fields": ["status"]}))]
	_code(_plan_with({"agencies": ["police"], "categories": ["warrant"]}, {"police": clauses}), "police") == "FG-CLEARANCE"
	_code(_plan_with(_police, {"police": clauses}), "police") == "FG-PURPOSE-NOT-COVERED"
}

# --- validity dates, inclusive at both ends (synthetic clause: 2025-01-01 to 2025-12-31) --------

test_dates_effective_day_applies if {
	_plan_with({"agencies": ["police"], "today": "2025-01-01"}, {"police": [_clause]}).agencies.police.grants.police_alert
}

test_dates_expiry_day_applies if {
	_plan_with({"agencies": ["police"], "today": "2025-12-31"}, {"police": [_clause]}).agencies.police.grants.police_alert
}

test_dates_day_before_effective_does_not_apply if {
	d := _plan_with({"agencies": ["police"], "today": "2024-12-31"}, {"police": [_clause]})
	_code(d, "police") == "FG-MOU-NOT-IN-FORCE"
}

test_dates_day_after_expiry_does_not_apply if {
	d := _plan_with({"agencies": ["police"], "today": "2026-01-01"}, {"police": [_clause]})
	_code(d, "police") == "FG-MOU-NOT-IN-FORCE"
}

test_dates_leap_day_and_month_ends if {
	c := _c({"effective": "2024-02-29", "expires": "2024-03-01"})
	_plan_with({"agencies": ["police"], "today": "2024-02-29"}, {"police": [c]}).agencies.police.grants.police_alert
	_plan_with({"agencies": ["police"], "today": "2024-03-01"}, {"police": [c]}).agencies.police.grants.police_alert
	_code(_plan_with({"agencies": ["police"], "today": "2024-02-28"}, {"police": [c]}), "police") == "FG-MOU-NOT-IN-FORCE"
	_code(_plan_with({"agencies": ["police"], "today": "2024-03-02"}, {"police": [c]}), "police") == "FG-MOU-NOT-IN-FORCE"
}

test_dates_one_day_agreement if {
	c := _c({"effective": "2025-06-01", "expires": "2025-06-01"})
	_plan_with(_police, {"police": [c]}).agencies.police.grants.police_alert
	_code(_plan_with({"agencies": ["police"], "today": "2025-06-02"}, {"police": [c]}), "police") == "FG-MOU-NOT-IN-FORCE"
}

# --- emergency-only clauses --------------------------------------------------------------------

test_emergency_only_clause_refused_without_an_emergency if {
	d := _plan_with(_police, {"police": [_c(_fail_emergency)]})
	d.agencies.police == {"refusal": {"code": "FG-EMERGENCY-ONLY", "msg": law.messages["FG-EMERGENCY-ONLY"]}}
}

test_emergency_only_clause_applies_in_an_emergency if {
	d := _plan_with({"agencies": ["police"], "emergency": true}, {"police": [_c(_fail_emergency)]})
	d.agencies.police.grants.police_alert
}

test_ordinary_clause_applies_in_an_emergency_too if {
	_plan_with({"agencies": ["police"], "emergency": true}, {"police": [_clause]}).agencies.police.grants.police_alert
}

test_emergency_flag_must_be_boolean_true_for_an_emergency_clause if {
	# a malformed flag never opens an emergency-only clause (fail closed)
	every flag in ["true", 1, "yes"] {
		d := _plan_with({"agencies": ["police"], "emergency": flag}, {"police": [_c(_fail_emergency)]})
		d.agencies.police.refusal
	}
}

test_emergency_purpose_grants_the_emergency_clause if {
	# SAMPLE-MOU-CUS-POL 9.1: border crossings for police when life or safety is at risk
	d := _plan({"requester": "police", "purpose": "SERIOUS_THREAT", "emergency": true, "agencies": ["customs"]})
	d.agencies.customs.grants.travel_movement.bases[0].clause == "9.1"
}

# A plan input without the "emergency" key must not get a misleading reason. Either the plan
# treats the missing flag as false, as law.rego's FG-EMERGENCY-REQUIRED does, or it refuses the
# input as malformed. (Found by this test: plan.rego builds `_emergency_allows` from
# `input.emergency == true`, undefined without the key, so every ordinary clause failed and the
# agency was refused FG-NO-AGREEMENT although an agreement covers the request.)
test_missing_emergency_flag_is_no_emergency_or_malformed if {
	inp := object.remove(_in(_police), ["emergency"])
	d := plan.decision with input as inp
	_same_or_malformed(d.agencies.police, _plan(_police).agencies.police)
}

_same_or_malformed(got, want) if got == want

_same_or_malformed(got, _) if got.refusal.code == "FG-MALFORMED-INPUT"

# --- clearance floor (min_clearance) -----------------------------------------------------------

test_clearance_floor_equal_rank_applies if {
	# customs is RESTRICTED (rank 3)
	_plan_with(_police, {"police": [_c({"min_clearance_rank": 3})]}).agencies.police.grants.police_alert
}

test_clearance_floor_one_above_refused if {
	_code(_plan_with(_police, {"police": [_c({"min_clearance_rank": 4})]}), "police") == "FG-CLEARANCE"
}

test_clearance_floor_is_the_requesters if {
	# the same clause for nzsis' TOP SECRET system (rank 6) applies
	inp := _in({"requester": "nzsis", "agencies": ["police"]})
	d := _plan_indexed(inp, {"nzsis": {"police": [_c({"min_clearance_rank": 6})]}})
	d.agencies.police.grants.police_alert
}

# --- intelligence holdings ---------------------------------------------------------------------

_intel_clause := _c({
	"holding": "intelligence",
	"category": "intelligence_flag",
	"fields": ["handling"],
	"purposes": {"NATIONAL_SECURITY": true},
	"refer_only": true,
})

test_intelligence_national_security_is_refer_only if {
	d := _plan({"purpose": "NATIONAL_SECURITY", "agencies": ["nzsis"]})
	g := d.agencies.nzsis.grants.intelligence_flag
	g.refer_only == true
	g.fields == ["handling"]
	g.bases[0].mou_id == "SAMPLE-MOU-SIS-BORDER"
}

test_intelligence_refused_for_every_other_purpose if {
	others := [p | some p, _ in reg.purposes; p != "NATIONAL_SECURITY"]
	count(others) > 0
	every purpose in others {
		d := _plan({"purpose": purpose, "agencies": ["nzsis"], "emergency": true})
		_code(d, "nzsis") == "FG-LAW-INTELLIGENCE-PURPOSE"
	}
}

test_intelligence_whatever_the_mou_says if {
	# an MoU clause that (wrongly) lists border risk assessment for intelligence holdings
	c := object.union(_intel_clause, {"purposes": {"BORDER_RISK_ASSESSMENT": true}})
	d := _plan_with({"agencies": ["nzsis"]}, {"nzsis": [c]})
	_code(d, "nzsis") == "FG-LAW-INTELLIGENCE-PURPOSE"
}

test_intelligence_always_refer_only_whatever_the_clause_says if {
	c := object.union(_intel_clause, {"refer_only": false})
	d := _plan_with({"purpose": "NATIONAL_SECURITY", "agencies": ["nzsis"]}, {"nzsis": [c]})
	d.agencies.nzsis.grants.intelligence_flag.refer_only == true
}

test_refer_only_clause_on_a_standard_holding if {
	d := _plan_with(_police, {"police": [_c({"refer_only": true})]})
	d.agencies.police.grants.police_alert.refer_only == true
}

test_refer_only_if_any_applicable_clause_says_so if {
	clauses := [_clause, _c({"clause": "1.2", "refer_only": true})]
	d := _plan_with(_police, {"police": clauses})
	d.agencies.police.grants.police_alert.refer_only == true
}

# --- fields, never_release and bases -----------------------------------------------------------

test_fields_are_sorted if {
	d := _plan_with(_police, {"police": [_clause]})
	d.agencies.police.grants.police_alert.fields == ["alert_type", "raised_on"]
}

test_never_release_fields_are_never_granted if {
	# the loader refuses such a clause; the rules hold even if one slipped through
	c := _c({"fields": ["covert", "alert_type", "classification"]})
	d := _plan_with(_police, {"police": [c]})
	d.agencies.police.grants.police_alert.fields == ["alert_type", "classification"]
}

test_never_release_intelligence_fields_are_never_granted if {
	c := object.union(_intel_clause, {"fields": ["flag_type", "raised_on", "active", "classification", "handling"]})
	d := _plan_with({"purpose": "NATIONAL_SECURITY", "agencies": ["nzsis"]}, {"nzsis": [c]})
	d.agencies.nzsis.grants.intelligence_flag.fields == ["handling"]
}

test_clauses_for_one_category_union_fields_and_list_every_basis if {
	second := _c({
		"mou_id": "TEST-MOU-B",
		"clause": "2",
		"fields": ["active", "alert_type"],
		"basis": {"mou_id": "TEST-MOU-B", "clause": "2", "statutes": ["Other Act 2020 s 9"], "code": "FG-ALLOW-MOU"},
	})
	g := _plan_with(_police, {"police": [_clause, second]}).agencies.police.grants.police_alert
	g.fields == ["active", "alert_type", "raised_on"]
	{b.mou_id | some b in g.bases} == {"TEST-MOU-A", "TEST-MOU-B"}
	count(g.bases) == 2
}

# Every grant the real bundle can give, for every requester, purpose and subject kind.
_sweep := [[requester, purpose, kind, agency, name, g] |
	some requester, _ in reg.requesters
	some purpose, _ in reg.purposes
	some kind in ["person", "vessel", "consignment", "organisation"]
	d := _plan({"requester": requester, "purpose": purpose, "subject_kind": kind, "emergency": true})
	some agency, entry in d.agencies
	some name, g in entry.grants
]

test_sweep_finds_grants if {
	count(_sweep) > 20
}

test_sweep_no_grant_carries_a_never_release_field if {
	every row in _sweep {
		agency := row[3]
		name := row[4]
		count({f | some f in row[5].fields; reg.categories[agency][name].never_release[f]}) == 0
	}
}

test_sweep_every_basis_is_an_mou_clause_with_statutes if {
	every row in _sweep {
		count(row[5].bases) > 0
		every b in row[5].bases {
			b.code == "FG-ALLOW-MOU"
			startswith(b.mou_id, "SAMPLE-")
			b.clause != ""
			count(b.statutes) > 0
			_basis_is_a_clause(row[0], row[3], row[4], b)
		}
	}
}

_basis_is_a_clause(requester, agency, name, b) if {
	some c in reg.clauses[requester][agency]
	c.basis == b
	c.category == name
}

test_sweep_fields_come_from_the_clauses_named_as_bases if {
	every row in _sweep {
		allowed := {f | some b in row[5].bases; some c in reg.clauses[row[0]][row[3]]; c.basis == b; some f in c.fields}
		every f in row[5].fields {
			f in allowed
		}
	}
}

test_sweep_intelligence_only_national_security_and_refer_only if {
	every row in _sweep {
		_intel_ok(row)
	}
}

_intel_ok(row) if reg.categories[row[3]][row[4]].holding == "standard"

_intel_ok(row) if {
	reg.categories[row[3]][row[4]].holding == "intelligence"
	row[1] == "NATIONAL_SECURITY"
	row[5].refer_only == true
}

test_sweep_decision_fields_are_the_categorys if {
	every row in _sweep {
		row[5].decision_fields == reg.categories[row[3]][row[4]].decision_fields
	}
}

# --- the two restatements of a clause's conditions agree ----------------------------------------
# plan.rego decides applicability inline (in _grants) and names reasons separately (_failures);
# at every boundary a clause applies (its category is granted) exactly when it has no failure reason.

# [clause, input overrides, expected failure codes, expected number of applicable clauses]
_agreement_cases := [
	[_clause, {"today": "2025-01-01"}, set(), 1],
	[_clause, {"today": "2025-12-31"}, set(), 1],
	[_clause, {"today": "2024-12-31"}, {"FG-MOU-NOT-IN-FORCE"}, 0],
	[_clause, {"today": "2026-01-01"}, {"FG-MOU-NOT-IN-FORCE"}, 0],
	[_c({"min_clearance_rank": 3}), {}, set(), 1],
	[_c({"min_clearance_rank": 4}), {}, {"FG-CLEARANCE"}, 0],
	[_c(_fail_emergency), {"emergency": true}, set(), 1],
	[_c(_fail_emergency), {"emergency": false}, {"FG-EMERGENCY-ONLY"}, 0],
	[_c(_fail_subject), {}, {"FG-SUBJECT-NOT-COVERED"}, 0],
	[_c(_fail_purpose), {}, {"FG-PURPOSE-NOT-COVERED"}, 0],
	[_c(_fail_intelligence), {}, {"FG-LAW-INTELLIGENCE-PURPOSE"}, 0],
	[_c(_fail_intelligence), {"purpose": "NATIONAL_SECURITY"}, {"FG-PURPOSE-NOT-COVERED"}, 0],
	[
		_c(object.union(_fail_intelligence, {"purposes": {"NATIONAL_SECURITY": true}})),
		{"purpose": "NATIONAL_SECURITY"}, set(), 1,
	],
	[
		_c(object.union_n([_fail_intelligence, _fail_purpose, _fail_subject, _fail_in_force, _fail_emergency, _fail_clearance])),
		{},
		{
			"FG-LAW-INTELLIGENCE-PURPOSE", "FG-PURPOSE-NOT-COVERED", "FG-SUBJECT-NOT-COVERED",
			"FG-MOU-NOT-IN-FORCE", "FG-EMERGENCY-ONLY", "FG-CLEARANCE",
		},
		0,
	],
]

test_failure_reasons_agree_with_applicability if {
	every case in _agreement_cases {
		inp := _in(object.union(_police, case[1]))
		clauses := {"customs": {"police": [case[0]]}}
		fs := plan._failures(case[0]) with input as inp with data.fedgate.registry.clauses as clauses
		d := _plan_indexed(inp, clauses)
		fs == case[2]
		count(object.get(d.agencies.police, "grants", {})) == case[3]
	}
}
