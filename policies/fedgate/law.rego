# METADATA
# title: Legislative limits and refusal codes
# description: >-
#   Rules that hold whatever an MoU says: validity dates, purposes, clearance,
#   intelligence holdings, covert flags. SAMPLE POLICY, NOT LEGAL ADVICE.
package fedgate.law

import data.fedgate.registry as reg

# METADATA
# title: Refusal and withholding messages by code
# description: The message each decision code carries to the requester (no personal data).
# custom:
#   code: FG-MESSAGES
#   message: (table of messages)
#   provision: Privacy Act 2020 s 22 IPP 11 (disclosure only as authorised)
messages := {
	"FG-MALFORMED-INPUT": "the decision input does not have the documented shape",
	"FG-UNKNOWN-REQUESTER": "the requesting agency is not registered in the policy bundle",
	"FG-UNKNOWN-PURPOSE": "the purpose is not in the purpose register",
	"FG-EMERGENCY-REQUIRED": "this purpose may be used only in an emergency",
	"FG-UNKNOWN-AGENCY": "no such agency in the policy bundle",
	"FG-UNKNOWN-CATEGORY": "the agency holds none of the requested categories (or no such category)",
	"FG-NO-AGREEMENT": "no agreement covers information from this agency for the requester",
	"FG-LAW-INTELLIGENCE-PURPOSE": "intelligence holdings are available only for national-security purposes",
	"FG-PURPOSE-NOT-COVERED": "no agreement covers this purpose",
	"FG-SUBJECT-NOT-COVERED": "no agreement covers this kind of subject",
	"FG-MOU-NOT-IN-FORCE": "no agreement covering this request is in force today",
	"FG-EMERGENCY-ONLY": "the agreement covering this request applies only in an emergency",
	"FG-CLEARANCE": "the requesting system's clearance is below what the agreement requires",
	"FG-LAW-COVERT": "covert flag: never disclosed",
	"FG-REFER-ONLY": "the agency holds a record; details are released only on referral to that agency",
	"FG-CLASSIFICATION-UNKNOWN": "the record's classification is unknown; withheld",
	"FG-CLEARANCE-CEILING": "the record is classified above the requesting system's clearance; refer to the agency",
}

# METADATA
# title: Malformed plan input
# description: >-
#   The plan input must have the documented shape (lists where lists are expected); anything
#   else is refused for every agency, so both engines decide the same way on it.
# custom:
#   code: FG-MALFORMED-INPUT
#   message: the decision input does not have the documented shape
#   provision: fail closed (docs/DESIGN, "Fail closed, always")
malformed_plan_input if not _plan_input_ok

_plan_input_ok if {
	is_string(input.requester)
	is_string(input.purpose)
	is_string(input.subject_kind)
	is_string(input.today)
	is_array(input.agencies)
	is_array(input.categories)
}

# METADATA
# title: Malformed release input
# description: The release input must have the documented shape; anything else is withheld.
# custom:
#   code: FG-MALFORMED-INPUT
#   message: the decision input does not have the documented shape
#   provision: fail closed (docs/DESIGN, "Fail closed, always")
malformed_release_input if not _release_input_ok

_release_input_ok if {
	is_string(input.requester)
	is_string(input.agency)
	is_string(input.category)
	is_array(input.grant.fields)
	is_array(input.grant.decision_fields)
	is_boolean(input.grant.refer_only)
	is_array(input.record.present)
	is_object(input.record.values)
}

# METADATA
# title: Unknown requester
# description: A requester with no entry in requesters.yaml gets nothing.
# custom:
#   code: FG-UNKNOWN-REQUESTER
#   message: the requesting agency is not registered in the policy bundle
#   provision: Customs and Excise Act 2018 s 315 and Immigration Act 2009 s 303B (who may access)
unknown_requester if not _known_requester

_known_requester if reg.requesters[input.requester]

# METADATA
# title: Unknown purpose
# description: A purpose not in the purpose register is refused for every agency.
# custom:
#   code: FG-UNKNOWN-PURPOSE
#   message: the purpose is not in the purpose register
#   provision: Privacy Act 2020 s 22 IPP 11 (disclosure only for an authorised purpose)
unknown_purpose if not _known_purpose

_known_purpose if reg.purposes[input.purpose]

# METADATA
# title: Emergency-only purpose without an emergency
# description: Purposes marked emergency_only in purposes.yaml need the emergency flag.
# custom:
#   code: FG-EMERGENCY-REQUIRED
#   message: this purpose may be used only in an emergency
#   provision: Privacy Act 2020 s 22 IPP 11(1)(f) (serious threat)
emergency_required if {
	reg.purposes[input.purpose].emergency_only
	not input.emergency
}

# METADATA
# title: Purposes for which intelligence holdings may be consulted
# description: Intelligence holdings only for national security, whatever an MoU says.
# custom:
#   code: FG-LAW-INTELLIGENCE-PURPOSE
#   message: intelligence holdings are available only for national-security purposes
#   provision: Intelligence and Security Act 2017 ss 16, 125; Customs and Excise Act 2018 s 316(2)(b)(iii)
intelligence_purposes := {"NATIONAL_SECURITY"}

# METADATA
# title: Covert flag
# description: >-
#   A record whose covert decision field is not plainly "false" is never disclosed, not even
#   as withheld: telling the requester would reveal the flag exists. Missing value: covert.
# custom:
#   code: FG-LAW-COVERT
#   message: "covert flag: never disclosed"
#   provision: Privacy Act 2020 s 53 (maintenance of the law); Policing Act 2008
covert_record if {
	"covert" in input.grant.decision_fields
	not _covert_cleared
}

_covert_cleared if input.record.values.covert == "false"

_covert_cleared if input.record.values.covert == false

# METADATA
# title: Record classification unknown
# description: A record whose classification is missing or not on the scale is withheld (fail closed).
# custom:
#   code: FG-CLASSIFICATION-UNKNOWN
#   message: the record's classification is unknown; withheld
#   provision: Protective Security Requirements (classification handling)
classification_unknown if {
	"classification" in input.grant.decision_fields
	not _known_classification
}

_known_classification if reg.classifications[input.record.values.classification]

# METADATA
# title: Record above the requester's clearance
# description: A record classified above the requesting system's clearance is withheld, with referral.
# custom:
#   code: FG-CLEARANCE-CEILING
#   message: the record is classified above the requesting system's clearance; refer to the agency
#   provision: Protective Security Requirements (need-to-know and clearance)
above_clearance if {
	"classification" in input.grant.decision_fields
	reg.classifications[input.record.values.classification] > reg.requesters[input.requester].clearance_rank
}
