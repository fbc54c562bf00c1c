# Tests for law.rego: the messages table and each legislative limit on its own.
# SAMPLE POLICY, NOT LEGAL ADVICE. Dates are fixed; no test reads the real today.
package fedgate.law_test

import data.fedgate.law

# Every decision code the policies emit, as documented in policies/README.md.
_codes := {
	"FG-MALFORMED-INPUT",
	"FG-UNKNOWN-REQUESTER",
	"FG-UNKNOWN-PURPOSE",
	"FG-EMERGENCY-REQUIRED",
	"FG-UNKNOWN-AGENCY",
	"FG-UNKNOWN-CATEGORY",
	"FG-NO-AGREEMENT",
	"FG-LAW-INTELLIGENCE-PURPOSE",
	"FG-PURPOSE-NOT-COVERED",
	"FG-SUBJECT-NOT-COVERED",
	"FG-MOU-NOT-IN-FORCE",
	"FG-EMERGENCY-ONLY",
	"FG-CLEARANCE",
	"FG-LAW-COVERT",
	"FG-REFER-ONLY",
	"FG-CLASSIFICATION-UNKNOWN",
	"FG-CLEARANCE-CEILING",
}

# A police alert grant (as the plan makes it) and a record; tests change one thing at a time.
_release_input(values) := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"emergency": false,
	"today": "2025-06-01",
	"agency": "police",
	"category": "police_alert",
	"grant": {
		"fields": ["active", "alert_type", "raised_on"],
		"decision_fields": ["covert", "classification"],
		"refer_only": false,
	},
	"record": {
		"present": ["active", "alert_type", "classification", "covert", "raised_on"],
		"values": values,
	},
}

# A grant without decision fields (warrants): covert and classification values are not looked at.
_plain_input(values) := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"emergency": false,
	"today": "2025-06-01",
	"agency": "police",
	"category": "warrant",
	"grant": {"fields": ["issued_on", "status", "warrant_type"], "decision_fields": [], "refer_only": false},
	"record": {"present": ["issued_on", "status", "warrant_type"], "values": values},
}

# --- the messages table ----------------------------------------------------------------------

test_messages_cover_exactly_the_documented_codes if {
	{code | some code, _ in law.messages} == _codes
}

test_every_message_is_a_non_empty_sentence if {
	every code, msg in law.messages {
		startswith(code, "FG-")
		is_string(msg)
		count(msg) > 10
	}
}

test_messages_carry_no_placeholders if {
	count([msg | some msg in law.messages; regex.match("[%{}]", msg)]) == 0
}

# --- malformed input ---------------------------------------------------------------------------

_plan_input := {
	"requester": "customs",
	"purpose": "BORDER_RISK_ASSESSMENT",
	"subject_kind": "person",
	"emergency": false,
	"agencies": [],
	"categories": [],
	"today": "2025-06-01",
}

test_plan_input_of_the_documented_shape_is_not_malformed if {
	not law.malformed_plan_input with input as _plan_input
}

test_plan_input_malformed if {
	bad := [
		object.remove(_plan_input, ["requester"]),
		object.remove(_plan_input, ["purpose"]),
		object.remove(_plan_input, ["subject_kind"]),
		object.remove(_plan_input, ["today"]),
		object.remove(_plan_input, ["agencies"]),
		object.remove(_plan_input, ["categories"]),
		object.union(_plan_input, {"agencies": "police"}),
		object.union(_plan_input, {"categories": {"visa": true}}),
		object.union(_plan_input, {"today": 20250601}),
		object.union(_plan_input, {"requester": ["customs"]}),
		object.union(_plan_input, {"purpose": null}),
	]
	every inp in bad {
		law.malformed_plan_input with input as inp
	}
}

test_release_input_of_the_documented_shape_is_not_malformed if {
	not law.malformed_release_input with input as _release_input({"covert": "false"})
}

test_release_input_malformed if {
	good := _release_input({"covert": "false"})
	bad := [
		object.remove(good, ["requester"]),
		object.remove(good, ["agency"]),
		object.remove(good, ["category"]),
		object.remove(good, ["grant"]),
		object.remove(good, ["record"]),
		object.union(good, {"grant": {"fields": "active", "decision_fields": [], "refer_only": false}}),
		object.union(good, {"grant": {"fields": [], "decision_fields": [], "refer_only": "true"}}),
		object.union(good, {"grant": {"fields": [], "decision_fields": null, "refer_only": false}}),
		object.union(good, {"record": {"present": "active", "values": {}}}),
		object.union(good, {"record": {"present": [], "values": []}}),
		object.union(good, {"record": {"present": ["active"], "values": "covert=false"}}),
	]
	every inp in bad {
		law.malformed_release_input with input as inp
	}
}

# --- request-level refusals ------------------------------------------------------------------

test_unknown_requester if {
	law.unknown_requester with input as {"requester": "atlantis", "purpose": "BORDER_RISK_ASSESSMENT"}
}

test_missing_requester_is_unknown if {
	law.unknown_requester with input as {"purpose": "BORDER_RISK_ASSESSMENT"}
}

test_requester_names_are_case_sensitive if {
	law.unknown_requester with input as {"requester": "Customs"}
}

test_every_registered_requester_is_known if {
	every requester in ["customs", "immigration", "mpi", "maritime", "police", "nzsis"] {
		not law.unknown_requester with input as {"requester": requester}
	}
}

test_unknown_purpose if {
	law.unknown_purpose with input as {"requester": "customs", "purpose": "CURIOSITY"}
}

test_missing_purpose_is_unknown if {
	law.unknown_purpose with input as {"requester": "customs"}
}

test_purpose_codes_are_case_sensitive if {
	law.unknown_purpose with input as {"requester": "customs", "purpose": "border_risk_assessment"}
}

test_registered_purpose_is_known if {
	not law.unknown_purpose with input as {"requester": "customs", "purpose": "LAW_ENFORCEMENT"}
}

test_emergency_only_purpose_needs_the_flag if {
	law.emergency_required with input as {"requester": "police", "purpose": "SERIOUS_THREAT", "emergency": false}
}

test_emergency_only_purpose_missing_flag_is_no_emergency if {
	law.emergency_required with input as {"requester": "police", "purpose": "SERIOUS_THREAT"}
}

test_emergency_only_purpose_with_the_flag if {
	not law.emergency_required with input as {"requester": "police", "purpose": "SERIOUS_THREAT", "emergency": true}
}

test_ordinary_purpose_needs_no_emergency if {
	not law.emergency_required with input as {"requester": "police", "purpose": "LAW_ENFORCEMENT", "emergency": false}
}

# --- intelligence holdings -------------------------------------------------------------------

test_intelligence_only_for_national_security if {
	law.intelligence_purposes == {"NATIONAL_SECURITY"}
}

# --- covert flag -----------------------------------------------------------------------------

test_covert_true_is_covert if {
	law.covert_record with input as _release_input({"covert": "true", "classification": "UNCLASSIFIED"})
}

test_covert_boolean_true_is_covert if {
	law.covert_record with input as _release_input({"covert": true, "classification": "UNCLASSIFIED"})
}

test_covert_missing_value_is_covert if {
	law.covert_record with input as _release_input({"classification": "UNCLASSIFIED"})
}

test_covert_no_values_at_all_is_covert if {
	# (release.rego withholds such an input as malformed first; the law rule alone still says covert)
	inp := object.remove(_release_input({}), ["record"])
	law.covert_record with input as inp
}

test_covert_anything_but_false_is_covert if {
	every value in ["TRUE", "yes", "", "False", "0", "unknown"] {
		law.covert_record with input as _release_input({"covert": value, "classification": "UNCLASSIFIED"})
	}
}

test_covert_null_is_covert if {
	law.covert_record with input as _release_input({"covert": null, "classification": "UNCLASSIFIED"})
}

test_covert_false_text_is_cleared if {
	not law.covert_record with input as _release_input({"covert": "false", "classification": "UNCLASSIFIED"})
}

test_covert_false_boolean_is_cleared if {
	not law.covert_record with input as _release_input({"covert": false, "classification": "UNCLASSIFIED"})
}

test_covert_only_looked_at_when_it_is_a_decision_field if {
	not law.covert_record with input as _plain_input({"covert": "true"})
}

# --- classification ----------------------------------------------------------------------------

test_classification_missing_is_unknown if {
	law.classification_unknown with input as _release_input({"covert": "false"})
}

test_classification_not_on_the_scale_is_unknown if {
	every value in ["secret", "TOPSECRET", "", "PROTECTED", "NZEO"] {
		law.classification_unknown with input as _release_input({"covert": "false", "classification": value})
	}
}

test_classification_on_the_scale_is_known if {
	every value in ["UNCLASSIFIED", "IN-CONFIDENCE", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"] {
		not law.classification_unknown with input as _release_input({"covert": "false", "classification": value})
	}
}

test_classification_only_looked_at_when_it_is_a_decision_field if {
	not law.classification_unknown with input as _plain_input({})
}

# customs' system is accredited to RESTRICTED.
test_above_clearance if {
	law.above_clearance with input as _release_input({"covert": "false", "classification": "CONFIDENTIAL"})
}

test_clearance_equal_to_the_record_is_enough if {
	not law.above_clearance with input as _release_input({"covert": "false", "classification": "RESTRICTED"})
}

test_clearance_below_the_record_for_every_higher_level if {
	every value in ["CONFIDENTIAL", "SECRET", "TOP SECRET"] {
		law.above_clearance with input as _release_input({"covert": "false", "classification": value})
	}
}

test_clearance_above_the_record_for_every_lower_level if {
	every value in ["UNCLASSIFIED", "IN-CONFIDENCE", "SENSITIVE", "RESTRICTED"] {
		not law.above_clearance with input as _release_input({"covert": "false", "classification": value})
	}
}

test_clearance_is_the_requesters if {
	# mpi's system is accredited to IN-CONFIDENCE only; nzsis' to TOP SECRET.
	law.above_clearance with input as object.union(_release_input({"covert": "false", "classification": "SENSITIVE"}), {"requester": "mpi"})
	not law.above_clearance with input as object.union(_release_input({"covert": "false", "classification": "TOP SECRET"}), {"requester": "nzsis"})
}

test_ceiling_only_looked_at_when_classification_is_a_decision_field if {
	not law.above_clearance with input as _plain_input({"classification": "TOP SECRET"})
}
