# Tests of the MoU files in policies/mous/: each agreement grants what it says, to whom, for what,
# and only while it is in force. At least one test per MoU names its id.
# SAMPLE POLICY, NOT LEGAL ADVICE. Dates are fixed; no test reads the real today.
package fedgate.mous_test

import data.fedgate.plan

_today := "2025-06-01"

_plan(requester, purpose, kind, agencies, today) := d if {
	inp := {
		"requester": requester,
		"purpose": purpose,
		"subject_kind": kind,
		"emergency": false,
		"agencies": agencies,
		"categories": [],
		"today": today,
	}
	d := plan.decision with input as inp
}

_emergency_plan(requester, purpose, kind, agencies) := d if {
	inp := {
		"requester": requester,
		"purpose": purpose,
		"subject_kind": kind,
		"emergency": true,
		"agencies": agencies,
		"categories": [],
		"today": _today,
	}
	d := plan.decision with input as inp
}

# The grant of `category` by `agency` rests on clause `clause` of `mou_id`.
_granted(d, agency, category, mou_id, clause) if {
	some b in d.agencies[agency].grants[category].bases
	b.mou_id == mou_id
	b.clause == clause
	b.code == "FG-ALLOW-MOU"
	count(b.statutes) > 0
}

_refused(d, agency, code) if d.agencies[agency].refusal.code == code

# --- SAMPLE-MOU-CUS-INZ (customs-immigration.yaml, 2024-07-01 to 2027-06-30) ---------------------

test_cus_inz_immigration_records_for_customs if {
	d := _plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["immigration"], _today)
	_granted(d, "immigration", "visa", "SAMPLE-MOU-CUS-INZ", "4.1")
	_granted(d, "immigration", "advance_passenger_processing", "SAMPLE-MOU-CUS-INZ", "4.2")
	_granted(d, "immigration", "immigration_alert", "SAMPLE-MOU-CUS-INZ", "4.3")
	d.agencies.immigration.grants.visa.fields == ["expires_on", "issued_on", "status", "visa_type"]
	not d.agencies.immigration.grants.immigration_status
}

test_cus_inz_customs_investigations_get_visas_and_alerts_only if {
	d := _plan("customs", "CUSTOMS_OFFENCE_INVESTIGATION", "person", ["immigration"], _today)
	_granted(d, "immigration", "visa", "SAMPLE-MOU-CUS-INZ", "4.1")
	_granted(d, "immigration", "immigration_alert", "SAMPLE-MOU-CUS-INZ", "4.3")
	not d.agencies.immigration.grants.advance_passenger_processing
}

test_cus_inz_border_crossings_for_immigration if {
	d := _plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["customs"], _today)
	_granted(d, "customs", "travel_movement", "SAMPLE-MOU-CUS-INZ", "6.1")
	d.agencies.customs.grants.travel_movement.fields == ["crossed_at", "direction", "flight_number", "port"]
}

test_cus_inz_dates if {
	_granted(_plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["customs"], "2024-07-01"), "customs", "travel_movement", "SAMPLE-MOU-CUS-INZ", "6.1")
	_granted(_plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["customs"], "2027-06-30"), "customs", "travel_movement", "SAMPLE-MOU-CUS-INZ", "6.1")
	_refused(_plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["customs"], "2024-06-30"), "customs", "FG-MOU-NOT-IN-FORCE")
	_refused(_plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["customs"], "2027-07-01"), "customs", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-CUS-MNZ (customs-maritime.yaml, 2024-03-01 to 2029-02-28) ------------------------

test_cus_mnz_vessels_for_customs if {
	d := _plan("customs", "BORDER_RISK_ASSESSMENT", "vessel", ["maritime"], _today)
	_granted(d, "maritime", "psc_inspection", "SAMPLE-MOU-CUS-MNZ", "5.1")
	_granted(d, "maritime", "vessel_registry", "SAMPLE-MOU-CUS-MNZ", "5.2")
	not d.agencies.maritime.grants.port_call
	# gross tonnage is held but not shared under clause 5.2
	d.agencies.maritime.grants.vessel_registry.fields == ["call_sign", "flag", "imo_number", "vessel_name", "vessel_type"]
}

test_cus_mnz_crew_for_customs if {
	d := _plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["maritime"], _today)
	_granted(d, "maritime", "crew_engagement", "SAMPLE-MOU-CUS-MNZ", "5.3")
}

test_cus_mnz_vessel_arrivals_for_maritime if {
	d := _plan("maritime", "MARITIME_SECURITY", "vessel", ["customs"], _today)
	_granted(d, "customs", "vessel_arrival", "SAMPLE-MOU-CUS-MNZ", "8.1")
	_refused(_plan("maritime", "MARITIME_SECURITY", "vessel", ["customs"], "2024-02-29"), "customs", "FG-MOU-NOT-IN-FORCE")
	_granted(_plan("maritime", "MARITIME_SECURITY", "vessel", ["customs"], "2029-02-28"), "customs", "vessel_arrival", "SAMPLE-MOU-CUS-MNZ", "8.1")
	_refused(_plan("maritime", "MARITIME_SECURITY", "vessel", ["customs"], "2029-03-01"), "customs", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-CUS-POL (customs-police.yaml, 2023-10-01 to 2028-09-30) --------------------------

test_cus_pol_police_records_for_customs if {
	d := _plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["police"], _today)
	_granted(d, "police", "police_alert", "SAMPLE-MOU-CUS-POL", "3.1")
	_granted(d, "police", "warrant", "SAMPLE-MOU-CUS-POL", "3.2")
	d.agencies.police.grants.police_alert.decision_fields == ["covert", "classification"]
	d.agencies.police.grants.warrant.fields == ["issued_on", "status", "warrant_type"]
}

test_cus_pol_customs_records_for_police if {
	d := _plan("police", "LAW_ENFORCEMENT", "person", ["customs"], _today)
	_granted(d, "customs", "travel_movement", "SAMPLE-MOU-CUS-POL", "7.1")
	_granted(d, "customs", "seizure", "SAMPLE-MOU-CUS-POL", "7.2")
}

test_cus_pol_emergency_clause if {
	d := _emergency_plan("police", "SERIOUS_THREAT", "person", ["customs"])
	_granted(d, "customs", "travel_movement", "SAMPLE-MOU-CUS-POL", "9.1")
	not d.agencies.customs.grants.seizure
	# without the emergency flag the purpose itself is refused
	_refused(_plan("police", "SERIOUS_THREAT", "person", ["customs"], _today), "customs", "FG-EMERGENCY-REQUIRED")
}

# --- SAMPLE-DAA-CUS-SIS (daa-customs-nzsis.yaml, 2023-07-01 to 2028-06-30, min SECRET) -----------

test_daa_cus_sis_border_crossings_for_nzsis if {
	d := _plan("nzsis", "NATIONAL_SECURITY", "person", ["customs"], _today)
	_granted(d, "customs", "travel_movement", "SAMPLE-DAA-CUS-SIS", "3")
	d.agencies.customs.grants.travel_movement.fields == ["crossed_at", "direction", "flight_number", "port", "travel_document_type"]
}

test_daa_cus_sis_only_for_national_security if {
	_refused(_plan("nzsis", "BORDER_RISK_ASSESSMENT", "person", ["customs"], _today), "customs", "FG-PURPOSE-NOT-COVERED")
	_refused(_plan("nzsis", "NATIONAL_SECURITY", "person", ["customs"], "2028-07-01"), "customs", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-DAA-INZ-SIS (daa-immigration-nzsis.yaml, 2023-07-01 to 2028-06-30) -------------------

test_daa_inz_sis_immigration_records_for_nzsis if {
	d := _plan("nzsis", "NATIONAL_SECURITY", "person", ["immigration"], _today)
	_granted(d, "immigration", "visa", "SAMPLE-DAA-INZ-SIS", "3")
	_granted(d, "immigration", "advance_passenger_processing", "SAMPLE-DAA-INZ-SIS", "4")
	# the directive is shared with customs (SAMPLE-MOU-CUS-INZ 4.2), not under this agreement
	d.agencies.immigration.grants.advance_passenger_processing.fields == ["destination_port", "flight_number", "origin_port", "scheduled_departure"]
}

test_daa_inz_sis_dates if {
	_granted(_plan("nzsis", "NATIONAL_SECURITY", "person", ["immigration"], "2023-07-01"), "immigration", "visa", "SAMPLE-DAA-INZ-SIS", "3")
	_refused(_plan("nzsis", "NATIONAL_SECURITY", "person", ["immigration"], "2023-06-30"), "immigration", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-INZ-POL (immigration-police.yaml, 2023-01-01 to 2027-12-31) ----------------------

test_inz_pol_police_records_for_immigration if {
	d := _plan("immigration", "IMMIGRATION_COMPLIANCE", "person", ["police"], _today)
	_granted(d, "police", "warrant", "SAMPLE-MOU-INZ-POL", "2.1")
	_granted(d, "police", "police_alert", "SAMPLE-MOU-INZ-POL", "2.2")
	d.agencies.police.grants.warrant.fields == ["issued_on", "offence", "status", "warrant_type"]
}

test_inz_pol_immigration_status_for_police if {
	d := _plan("police", "LAW_ENFORCEMENT", "person", ["immigration"], _today)
	_granted(d, "immigration", "immigration_status", "SAMPLE-MOU-INZ-POL", "3.1")
	not d.agencies.immigration.grants.visa
	_refused(_plan("police", "LAW_ENFORCEMENT", "person", ["immigration"], "2028-01-01"), "immigration", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-JBMS (jbms.yaml, from 2022-01-01, no expiry) -------------------------------------

test_jbms_mpi_records_for_customs if {
	d := _plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["mpi"], _today)
	_granted(d, "mpi", "biosecurity_incident", "SAMPLE-MOU-JBMS", "2.1")
	c := _plan("customs", "CUSTOMS_OFFENCE_INVESTIGATION", "consignment", ["mpi"], _today)
	_granted(c, "mpi", "consignment_inspection", "SAMPLE-MOU-JBMS", "2.2")
}

test_jbms_customs_records_for_mpi if {
	d := _plan("mpi", "BIOSECURITY_RISK", "person", ["customs"], _today)
	_granted(d, "customs", "travel_movement", "SAMPLE-MOU-JBMS", "3.2")
	# clause 3.4 (seizures) needs a SENSITIVE system; mpi's is IN-CONFIDENCE
	not d.agencies.customs.grants.seizure
	c := _plan("mpi", "BIOSECURITY_RISK", "consignment", ["customs"], _today)
	_granted(c, "customs", "consignment_record", "SAMPLE-MOU-JBMS", "3.1")
	o := _plan("mpi", "BIOSECURITY_RISK", "organisation", ["customs"], _today)
	_granted(o, "customs", "trader", "SAMPLE-MOU-JBMS", "3.3")
}

test_jbms_has_no_expiry if {
	_granted(_plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["mpi"], "2022-01-01"), "mpi", "biosecurity_incident", "SAMPLE-MOU-JBMS", "2.1")
	_granted(_plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["mpi"], "9999-12-31"), "mpi", "biosecurity_incident", "SAMPLE-MOU-JBMS", "2.1")
	# The day before: asked for incidents only, the reason is the date. Asked for everything, the
	# consignment clause 2.2 (which does not cover persons) is a candidate too, and the subject is
	# the more fundamental reason in the documented order.
	inp := {
		"requester": "customs",
		"purpose": "BORDER_RISK_ASSESSMENT",
		"subject_kind": "person",
		"emergency": false,
		"agencies": ["mpi"],
		"categories": ["biosecurity_incident"],
		"today": "2021-12-31",
	}
	_refused(plan.decision, "mpi", "FG-MOU-NOT-IN-FORCE") with input as inp
	_refused(_plan("customs", "BORDER_RISK_ASSESSMENT", "person", ["mpi"], "2021-12-31"), "mpi", "FG-SUBJECT-NOT-COVERED")
}

# --- SAMPLE-MOU-MPI-MNZ (mpi-maritime.yaml: signed, in force 2027-07-01 to 2032-06-30) ------------

test_mpi_mnz_not_yet_in_force if {
	_refused(_plan("mpi", "BIOSECURITY_RISK", "vessel", ["maritime"], _today), "maritime", "FG-MOU-NOT-IN-FORCE")
	_refused(_plan("mpi", "BIOSECURITY_RISK", "vessel", ["maritime"], "2027-06-30"), "maritime", "FG-MOU-NOT-IN-FORCE")
}

test_mpi_mnz_applies_within_its_dates if {
	_granted(_plan("mpi", "BIOSECURITY_RISK", "vessel", ["maritime"], "2027-07-01"), "maritime", "port_call", "SAMPLE-MOU-MPI-MNZ", "2.1")
	_granted(_plan("mpi", "BIOSECURITY_RISK", "vessel", ["maritime"], "2032-06-30"), "maritime", "port_call", "SAMPLE-MOU-MPI-MNZ", "2.1")
	_refused(_plan("mpi", "BIOSECURITY_RISK", "vessel", ["maritime"], "2032-07-01"), "maritime", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-SIS-BORDER (nzsis-border.yaml, 2024-01-01 to 2027-12-31, referral only) ----------

test_sis_border_referral_for_customs if {
	d := _plan("customs", "NATIONAL_SECURITY", "person", ["nzsis"], _today)
	_granted(d, "nzsis", "intelligence_flag", "SAMPLE-MOU-SIS-BORDER", "2.1")
	d.agencies.nzsis.grants.intelligence_flag.refer_only == true
	d.agencies.nzsis.grants.intelligence_flag.fields == ["handling"]
}

test_sis_border_referral_for_police if {
	d := _plan("police", "NATIONAL_SECURITY", "person", ["nzsis"], _today)
	_granted(d, "nzsis", "intelligence_flag", "SAMPLE-MOU-SIS-BORDER", "2.2")
	d.agencies.nzsis.grants.intelligence_flag.refer_only == true
}

test_sis_border_not_for_other_purposes_or_agencies if {
	_refused(_plan("police", "LAW_ENFORCEMENT", "person", ["nzsis"], _today), "nzsis", "FG-LAW-INTELLIGENCE-PURPOSE")
	_refused(_plan("immigration", "NATIONAL_SECURITY", "person", ["nzsis"], _today), "nzsis", "FG-NO-AGREEMENT")
	_refused(_plan("customs", "NATIONAL_SECURITY", "person", ["nzsis"], "2023-12-31"), "nzsis", "FG-MOU-NOT-IN-FORCE")
}

# --- SAMPLE-MOU-POL-MNZ (police-maritime-2019.yaml: expired, 2019-07-01 to 2023-06-30) ------------

test_pol_mnz_expired_does_not_apply_today if {
	_refused(_plan("police", "LAW_ENFORCEMENT", "person", ["maritime"], _today), "maritime", "FG-MOU-NOT-IN-FORCE")
	_refused(_plan("police", "LAW_ENFORCEMENT", "person", ["maritime"], "2023-07-01"), "maritime", "FG-MOU-NOT-IN-FORCE")
}

test_pol_mnz_applied_within_its_dates if {
	_granted(_plan("police", "LAW_ENFORCEMENT", "person", ["maritime"], "2019-07-01"), "maritime", "crew_engagement", "SAMPLE-MOU-POL-MNZ", "2")
	_granted(_plan("police", "LAW_ENFORCEMENT", "person", ["maritime"], "2023-06-30"), "maritime", "crew_engagement", "SAMPLE-MOU-POL-MNZ", "2")
	_refused(_plan("police", "LAW_ENFORCEMENT", "person", ["maritime"], "2019-06-30"), "maritime", "FG-MOU-NOT-IN-FORCE")
}
