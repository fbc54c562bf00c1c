# METADATA
# title: Release — what of one fetched record may go to the requester
# description: >-
#   Evaluated per record after fan-out, on the record's decision fields only (never the
#   values being released). SAMPLE POLICY, NOT LEGAL ADVICE.
package fedgate.release

import data.fedgate.registry as reg

# law.rego's rules are named by full path (data.fedgate.law.…), not through an import of the
# package: regorus evaluates every rule of an imported package, which costs a release
# decision about a fifth of its time.

# METADATA
# title: Release decision
# description: >-
#   release (with the fields that may go out), withhold, or refer. Order: malformed input,
#   covert flag (silent), unknown requester, unknown category,
#   referral-only grant, unknown classification, classification above clearance, release.
# custom:
#   code: FG-RELEASE
#   message: release decision
#   provision: mous/*.yaml and law.rego
decision := _withhold("FG-MALFORMED-INPUT", false, false) if data.fedgate.law.malformed_release_input
else := _withhold("FG-LAW-COVERT", false, true) if data.fedgate.law.covert_record
else := _withhold("FG-UNKNOWN-REQUESTER", false, false) if data.fedgate.law.unknown_requester
else := _withhold("FG-UNKNOWN-CATEGORY", false, false) if not _known_category
else := {
	"bundle_digest": reg.bundle.digest,
	"action": "refer",
	"released": [],
	"withheld": [_withheld("FG-REFER-ONLY", true, false)],
} if input.grant.refer_only == true
else := _withhold("FG-CLASSIFICATION-UNKNOWN", false, false) if data.fedgate.law.classification_unknown
else := _withhold("FG-CLEARANCE-CEILING", true, false) if data.fedgate.law.above_clearance
else := {
	"bundle_digest": reg.bundle.digest,
	"action": "release",
	"released": _released,
	"withheld": [],
}

_withhold(code, refer, silent) := {
	"bundle_digest": reg.bundle.digest,
	"action": "withhold",
	"released": [],
	"withheld": [_withheld(code, refer, silent)],
}

_withheld(code, refer, silent) := {
	"field": "",
	"code": code,
	"reason": data.fedgate.law.messages[code],
	"refer": refer,
	"silent": silent,
}

_known_category if reg.categories[input.agency][input.category]

_never := reg.categories[input.agency][input.category].never_release

_released := sort({f |
	some f in input.grant.fields
	f in input.record.present
	not _never[f]
})
