# Tests for release.rego: every branch, in its order, and what may go out.
# SAMPLE POLICY, NOT LEGAL ADVICE. Dates are fixed; no test reads the real today.
# Order: malformed input > covert flag (silent withhold) > unknown requester > unknown category >
# refer-only grant > unknown classification > classification above the requester's clearance >
# release.
package fedgate.release_test

import data.fedgate.law
import data.fedgate.plan
import data.fedgate.registry as reg
import data.fedgate.release

# Customs' police alert grant, as the plan gives it (SAMPLE-MOU-CUS-POL 3.1), and a record that
# may be released: not covert, RESTRICTED (customs' own ceiling).
_grant := {
	"fields": ["active", "alert_type", "raised_on"],
	"decision_fields": ["covert", "classification"],
	"refer_only": false,
}

_present := ["active", "alert_type", "classification", "covert", "raised_on"]

_base := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"emergency": false,
	"today": "2025-06-01",
	"agency": "police",
	"category": "police_alert",
	"grant": _grant,
	"record": {"present": _present, "values": {"covert": "false", "classification": "RESTRICTED"}},
}

_in(over) := {k: object.get(over, k, v) | some k, v in _base}

# The base input with the record's decision-field values replaced.
_values(values) := _in({"record": {"present": _present, "values": values}})

_release(inp) := d if {
	d := release.decision with input as inp
}

_grant_with(over) := {k: object.get(over, k, v) | some k, v in _grant}

_withheld(code, refer, silent) := {
	"field": "",
	"code": code,
	"reason": law.messages[code],
	"refer": refer,
	"silent": silent,
}

_withhold(code, refer, silent) := {
	"bundle_digest": reg.bundle.digest,
	"action": "withhold",
	"released": [],
	"withheld": [_withheld(code, refer, silent)],
}

_covert := _withhold("FG-LAW-COVERT", false, true)

_refer := {
	"bundle_digest": reg.bundle.digest,
	"action": "refer",
	"released": [],
	"withheld": [_withheld("FG-REFER-ONLY", true, false)],
}

_released(fields) := {
	"bundle_digest": reg.bundle.digest,
	"action": "release",
	"released": fields,
	"withheld": [],
}

# --- release (the last branch) -------------------------------------------------------------------

test_release_when_nothing_stands_in_the_way if {
	_release(_base) == _released(["active", "alert_type", "raised_on"])
}

test_release_at_every_level_up_to_the_clearance if {
	every level in ["UNCLASSIFIED", "IN-CONFIDENCE", "SENSITIVE", "RESTRICTED"] {
		_release(_values({"covert": "false", "classification": level})).action == "release"
	}
}

test_release_covert_false_boolean if {
	_release(_values({"covert": false, "classification": "UNCLASSIFIED"})).action == "release"
}

test_release_only_granted_fields_the_record_has if {
	inp := _in({"record": {"present": ["alert_type", "covert", "classification"], "values": _base.record.values}})
	_release(inp).released == ["alert_type"]
}

test_release_never_the_decision_fields_unless_granted if {
	d := _release(_base)
	count({f | some f in d.released; f in {"covert", "classification"}}) == 0
}

test_release_sorted_whatever_the_grant_order if {
	inp := _in({"grant": _grant_with({"fields": ["raised_on", "active", "alert_type"]})})
	_release(inp).released == ["active", "alert_type", "raised_on"]
}

test_release_never_a_never_release_field if {
	# a grant that (wrongly) lists the covert flag: it is still never released
	inp := _in({"grant": _grant_with({"fields": ["active", "covert", "classification"]})})
	_release(inp).released == ["active", "classification"]
}

test_release_never_intelligence_never_release_fields if {
	inp := _in({
		"requester": "nzsis",
		"purpose": "NATIONAL_SECURITY",
		"agency": "nzsis",
		"category": "intelligence_flag",
		"grant": {"fields": ["flag_type", "handling", "active"], "decision_fields": ["classification"], "refer_only": false},
		"record": {"present": ["flag_type", "handling", "active", "classification"], "values": {"classification": "SECRET"}},
	})
	_release(inp).released == ["handling"]
}

test_release_nothing_present_releases_nothing if {
	inp := _in({"record": {"present": [], "values": _base.record.values}})
	_release(inp) == _released([])
}

test_release_grant_without_decision_fields_ignores_values if {
	# warrants: no covert flag or classification to decide on, whatever the adapter sent
	inp := _in({
		"category": "warrant",
		"grant": {"fields": ["issued_on", "status", "warrant_type"], "decision_fields": [], "refer_only": false},
		"record": {"present": ["issued_on", "status", "warrant_type"], "values": {"covert": "true", "classification": "TOP SECRET"}},
	})
	_release(inp) == _released(["issued_on", "status", "warrant_type"])
}

test_release_for_a_higher_clearance if {
	inp := object.union(_values({"covert": "false", "classification": "TOP SECRET"}), {"requester": "nzsis"})
	_release(inp).action == "release"
}

# --- covert flag (the second branch): withheld, silent, never named ----------------------------------

test_covert_true_withheld_silently if {
	_release(_values({"covert": "true", "classification": "RESTRICTED"})) == _covert
}

test_covert_missing_value_withheld_silently if {
	_release(_values({"classification": "RESTRICTED"})) == _covert
}

test_covert_before_unknown_requester if {
	inp := object.union(_values({"covert": "true", "classification": "RESTRICTED"}), {"requester": "atlantis"})
	_release(inp) == _covert
}

test_covert_any_value_but_false_withheld_silently if {
	every value in ["TRUE", "True", "yes", "1", "", "unknown", true, null, 0] {
		_release(_values({"covert": value, "classification": "RESTRICTED"})) == _covert
	}
}

test_covert_is_silent_and_names_no_field if {
	d := _release(_values({"covert": "true", "classification": "RESTRICTED"}))
	d.released == []
	count(d.withheld) == 1
	d.withheld[0].silent == true
	d.withheld[0].refer == false
	d.withheld[0].field == ""
}

test_covert_before_unknown_category if {
	inp := object.union(_values({"covert": "true"}), {"category": "tax_return"})
	_release(inp) == _covert
}

test_covert_before_refer_only if {
	inp := _in({
		"grant": _grant_with({"refer_only": true}),
		"record": {"present": _present, "values": {"covert": "true", "classification": "RESTRICTED"}},
	})
	_release(inp) == _covert
}

test_covert_before_unknown_classification if {
	_release(_values({"covert": "true", "classification": "BANANA"})) == _covert
	_release(_values({})) == _covert
}

test_covert_before_the_clearance_ceiling if {
	_release(_values({"covert": "true", "classification": "TOP SECRET"})) == _covert
}

# --- malformed input (the first branch): withheld, before anything else is looked at ------------------

_malformed := _withhold("FG-MALFORMED-INPUT", false, false)

test_malformed_input_withheld if {
	bad := [
		object.remove(_base, ["record"]),
		_in({"record": {"present": _present}}),
		_in({"record": {"present": "active", "values": {"covert": "false"}}}),
		_in({"grant": _grant_with({"refer_only": "true"})}),
		# (objects, not strings, where the rules iterate: under `with input as`, regorus 0.13
		# raises "some .. in collection expects array/set/object" for a string here, where OPA
		# and regorus' own top-level evaluation answer FG-MALFORMED-INPUT)
		_in({"grant": _grant_with({"fields": {"active": true}})}),
		_in({"grant": _grant_with({"decision_fields": null})}),
		object.remove(_base, ["grant"]),
		object.remove(_base, ["requester"]),
		_in({"agency": 7}),
		_in({"category": ["police_alert"]}),
	]
	every inp in bad {
		_release(inp) == _malformed
	}
}

test_malformed_before_covert if {
	# a covert record in a malformed input: withheld all the same, and the flag is not named
	inp := _in({
		"grant": _grant_with({"refer_only": "false"}),
		"record": {"present": _present, "values": {"covert": "true", "classification": "RESTRICTED"}},
	})
	_release(inp) == _malformed
}

test_malformed_before_unknown_requester if {
	_release(_in({"requester": "atlantis", "record": {"present": _present}})) == _malformed
}

# --- unknown requester (the third branch) ------------------------------------------------------------

test_unknown_requester_withheld if {
	_release(_in({"requester": "atlantis"})) == _withhold("FG-UNKNOWN-REQUESTER", false, false)
}

test_unknown_requester_never_released_even_unclassified if {
	inp := object.union(_values({"covert": "false", "classification": "UNCLASSIFIED"}), {"requester": "atlantis"})
	_release(inp) == _withhold("FG-UNKNOWN-REQUESTER", false, false)
}

test_unknown_requester_before_unknown_category if {
	_release(_in({"requester": "atlantis", "category": "tax_return"})) == _withhold("FG-UNKNOWN-REQUESTER", false, false)
}

# --- unknown category (the fourth branch) --------------------------------------------------------

test_unknown_category_withheld if {
	_release(_in({"category": "tax_return"})) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

test_unknown_agency_withheld if {
	_release(_in({"agency": "atlantis"})) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

test_category_of_another_agency_withheld if {
	_release(_in({"category": "visa"})) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

test_unknown_category_before_refer_only if {
	inp := _in({"category": "tax_return", "grant": _grant_with({"refer_only": true})})
	_release(inp) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

test_unknown_category_before_unknown_classification if {
	inp := object.union(_values({"covert": "false"}), {"category": "tax_return"})
	_release(inp) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

test_unknown_category_before_the_clearance_ceiling if {
	inp := object.union(_values({"covert": "false", "classification": "TOP SECRET"}), {"category": "tax_return"})
	_release(inp) == _withhold("FG-UNKNOWN-CATEGORY", false, false)
}

# --- referral only (the fifth branch) ------------------------------------------------------------

test_refer_only_grant_refers if {
	_release(_in({"grant": _grant_with({"refer_only": true})})) == _refer
}

test_refer_only_before_unknown_classification if {
	inp := _in({
		"grant": _grant_with({"refer_only": true}),
		"record": {"present": _present, "values": {"covert": "false"}},
	})
	_release(inp) == _refer
}

test_refer_only_before_the_clearance_ceiling if {
	inp := _in({
		"grant": _grant_with({"refer_only": true}),
		"record": {"present": _present, "values": {"covert": "false", "classification": "TOP SECRET"}},
	})
	_release(inp) == _refer
}

test_intelligence_holding_is_referred_never_released if {
	# the grant the plan makes for customs' national-security lookup at NZSIS
	p := plan.decision with input as {
		"requester": "customs",
		"purpose": "NATIONAL_SECURITY",
		"subject_kind": "person",
		"emergency": false,
		"agencies": ["nzsis"],
		"categories": [],
		"today": "2025-06-01",
	}
	g := p.agencies.nzsis.grants.intelligence_flag
	every level in ["UNCLASSIFIED", "SECRET", "TOP SECRET", "BANANA"] {
		inp := _in({
			"purpose": "NATIONAL_SECURITY",
			"agency": "nzsis",
			"category": "intelligence_flag",
			"grant": {"fields": g.fields, "decision_fields": g.decision_fields, "refer_only": g.refer_only},
			"record": {"present": ["handling", "classification", "flag_type"], "values": {"classification": level}},
		})
		_release(inp) == _refer
	}
}

# --- unknown classification (the sixth branch) ---------------------------------------------------

test_classification_missing_withheld if {
	_release(_values({"covert": "false"})) == _withhold("FG-CLASSIFICATION-UNKNOWN", false, false)
}

test_classification_not_on_the_scale_withheld if {
	every level in ["secret", "Top Secret", "TOPSECRET", "", "PROTECTED", "BANANA"] {
		_release(_values({"covert": "false", "classification": level})) == _withhold("FG-CLASSIFICATION-UNKNOWN", false, false)
	}
}

test_classification_not_text_withheld if {
	every level in [3, null, true, ["SECRET"]] {
		_release(_values({"covert": "false", "classification": level})) == _withhold("FG-CLASSIFICATION-UNKNOWN", false, false)
	}
}

# --- classification above the requester's clearance (the seventh branch) -----------------------------

test_above_clearance_withheld_with_referral if {
	# customs' system is RESTRICTED
	every level in ["CONFIDENTIAL", "SECRET", "TOP SECRET"] {
		_release(_values({"covert": "false", "classification": level})) == _withhold("FG-CLEARANCE-CEILING", true, false)
	}
}

test_above_clearance_is_the_requesters if {
	# mpi's system is IN-CONFIDENCE only
	inp := object.union(_values({"covert": "false", "classification": "SENSITIVE"}), {"requester": "mpi"})
	_release(inp) == _withhold("FG-CLEARANCE-CEILING", true, false)
	low := object.union(_values({"covert": "false", "classification": "IN-CONFIDENCE"}), {"requester": "mpi"})
	_release(low).action == "release"
}

# --- every branch: shape and messages --------------------------------------------------------------

test_every_branch_has_the_documented_shape if {
	inputs := [
		_base,
		object.remove(_base, ["record"]),
		_values({"covert": "true"}),
		_in({"requester": "atlantis"}),
		_in({"category": "tax_return"}),
		_in({"grant": _grant_with({"refer_only": true})}),
		_values({"covert": "false"}),
		_values({"covert": "false", "classification": "SECRET"}),
	]
	codes := [[d.action, c] | some inp in inputs; d := _release(inp); c := _first_code(d)]
	codes == [
		["release", ""],
		["withhold", "FG-MALFORMED-INPUT"],
		["withhold", "FG-LAW-COVERT"],
		["withhold", "FG-UNKNOWN-REQUESTER"],
		["withhold", "FG-UNKNOWN-CATEGORY"],
		["refer", "FG-REFER-ONLY"],
		["withhold", "FG-CLASSIFICATION-UNKNOWN"],
		["withhold", "FG-CLEARANCE-CEILING"],
	]
	every inp in inputs {
		d := _release(inp)
		{k | some k, _ in d} == {"bundle_digest", "action", "released", "withheld"}
		d.bundle_digest == reg.bundle.digest
		every w in d.withheld {
			{k | some k, _ in w} == {"field", "code", "reason", "refer", "silent"}
			w.reason == law.messages[w.code]
		}
	}
}

_first_code(d) := "" if count(d.withheld) == 0

_first_code(d) := d.withheld[0].code if count(d.withheld) > 0

test_only_covert_is_silent if {
	silent := {w.code |
		some inp in [
			object.remove(_base, ["record"]),
			_in({"requester": "atlantis"}),
			_values({"covert": "true"}),
			_in({"category": "tax_return"}),
			_in({"grant": _grant_with({"refer_only": true})}),
			_values({"covert": "false"}),
			_values({"covert": "false", "classification": "SECRET"}),
		]
		some w in _release(inp).withheld
		w.silent == true
	}
	silent == {"FG-LAW-COVERT"}
}
