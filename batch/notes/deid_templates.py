"""Note templates for the synthetic de-identification corpus (:mod:`batch.notes.deid_corpus`).

Syntax: ``{KEY}`` is a slot filled by :mod:`batch.notes.deid_surrogates` (PHI, annotated) or
with a non-PHI value (``{AGE}`` under 90, ``{STATE}``, ``{MED}``, ``{PROB}``, ``{TTL}``...);
``<<a|b|c>>`` picks one variant. Each template is one note; ``TEST_ONLY`` templates and the
whole ``ed_triage`` style are used only for the test split, so the test notes have sentence
frames the train split never shows.
"""

from __future__ import annotations

TEMPLATES: dict[str, list[str]] = {
    "nursing": [
        # 0
        """NURSING PROGRESS NOTE
<<Date|Date of service|DOS>>: {DATE}   Shift: <<0700-1900|1900-0700|days|nights>>
<<Pt|Patient>> {PT} (MRN {MRN}) <<is a|is an>> {AGE} y/o {SEX} admitted <<on|from>> {DATE} with {PROB}.
Neuro: alert and oriented x3, follows commands. <<Denies headache.|No focal deficits.|Pupils equal and reactive.>>
Resp: lungs <<clear bilaterally|with crackles at bases|diminished at the bases>>, on <<2L NC|room air|4L nasal cannula>>. <<No shortness of breath.|Denies dyspnea.>>
CV: <<NSR on tele|sinus rhythm 70s-80s|rate controlled afib>>, <<no edema|trace pedal edema|1+ edema bilateral lower extremities>>.
GI: tolerating <<regular|cardiac|diabetic>> diet, <<last BM today|no BM this shift|passing flatus>>.
Meds: {MED} given as ordered; <<no adverse reaction|tolerated well>>.
Family: <<{RELW} {REL} at bedside, updated on plan of care.|{REL} ({RELW}) called for update, phone {PHONE}.|Spoke with {RELW} {RELFULL} by phone at {PHONE}.>>
<<{PTF} ambulated in hallway with walker, steady gait.|{PTF} resting comfortably, call bell within reach.|{TTL} {PTL} up to chair for meals.>>
<<Dr. {DRL} notified of|Paged Dr. {DRL} (pager {PAGER}) re:|MD {DR} aware of>> <<BP 170/92|low urine output|K 3.1>>; <<new orders received|will recheck in 1 hour>>.
<<Signed|Electronically signed>>: {RNFULL}, RN  {DATE} <<1845|0650|1910>>""",
        # 1
        """Nursing Admission Assessment - {DATE}
{TTL} {PTL} arrived to <<4 West|the floor|unit 6B>> via stretcher from <<ED|{HOSP}>> accompanied by {RELW} {REL}.
<<Lives|Resides>> at {STREET}, {APT}, {TOWN}, {STATE} {ZIP} <<with {RELW}|alone|with spouse>>.
Primary contact: {RELFULL} ({RELW}) <<cell|home>> {PHONE}. <<Alternate contact|Second contact>> {REL2FULL} {PHONE}.
Allergies: <<NKDA|penicillin (rash)|sulfa>>. Home meds reconciled with {RELW}: {MED}, {MED2}.
Skin intact, Braden 18. Fall risk: high; bed alarm on.
Pain 3/10 <<left hip|lower back|abdomen>>, {MED} given.
PCP: Dr. {DR2}, <<{HOSP}|Family Health Associates>>, phone {PHONE}, fax {FAX}.
Oriented to room and call light. <<Care plan reviewed with patient.|Will continue to monitor.>>
{RNFULL} RN""",
        # 2
        """Shift note {DATE}
<<Received pt|Received patient|Assumed care of patient>> at 0700. {PT} is a {AGE90} yo {SEX} from {NH} with {PROB} and {PROB2}.
Pt's {RELW}, {REL}, <<visited this afternoon|at bedside all shift|called twice>>; {RELW} requests updates at {PHONE}.
Vitals stable, afebrile. <<SpO2 94% on 2L.|HR 88, BP 132/70.>> Foley <<draining clear yellow urine|in place>>.
<<Denies chest pain.|No complaints of nausea.|Reports mild nausea, zofran given.>>
Wound to <<sacrum|left heel>> dressed per wound care. Case management following for return to {NH}.
Per {DR} plan is <<discharge tomorrow|repeat labs in AM|PT/OT eval>>.
- {RNF} {RNL}, RN""",
        # 3 (test only)
        """NURSING NOTE  {DATE}
Care assumed for {PTLF} (DOB {DATE}, acct {ACCT}). Report from {RNF} on nights.
Overnight {PTF} was restless and pulled at IV; <<reoriented frequently|sitter at bedside|{RELW} {REL} stayed overnight>>.
Bladder scan 450 mL, straight cath per order. {MED} held for SBP < 100.
{RELW} {RELFULL} from {TOWN} called; <<update provided|questions answered>>. Email on file {EMAIL}.
Hospitalist {DR} aware; reach him at pager {PAGER} or <<extension|ext>> {EXT}.
Plan: transfer back to {NH} once medically cleared.
{RNFULL}, RN, BSN""",
        # 4 (test only)
        """Nursing discharge teaching - {DATE}
Reviewed discharge instructions with {TTL} {PTL} and {RELW} ({REL}). Teach-back successful.
Follow-up with {DR2} at {HOSP} on {DATE}; clinic phone {PHONE}.
<<Prescriptions sent to|Meds filled at>> pharmacy; new meds {MED} and {MED2} explained.
Transport home to {STREET} in {TOWN} by {RELW}. Patient portal: {URL}.
{RNFULL} RN""",
    ],
    "discharge": [
        # 0
        """DISCHARGE SUMMARY
Patient: {PTLF}    MRN: {MRN}    Acct #: {ACCT}
Admission date: {DATE}    Discharge date: {DATE}
Attending: {DR}, MD    <<PCP|Primary care physician>>: Dr. {DR2}
HISTORY OF PRESENT ILLNESS: {TTL} {PTL} is a {AGE}-year-old {SEX} with a history of {PROB} and {PROB2} who presented to {HOSP} with <<3 days of|worsening|acute onset>> {PROB3}. <<She|He>> denies fever or chills.
HOSPITAL COURSE: Treated with {MED} and {MED2}. <<Echo showed EF 35%.|CT chest negative for pulmonary embolism.|Blood cultures no growth.>> {PTF} improved and was ambulating by hospital day 3.
Seen by <<cardiology|nephrology|infectious disease>> (Dr. {DR3L}), who recommended {MED3}.
DISPOSITION: Discharged to <<home with services|{NH}|home with {RELW}>>.
FOLLOW-UP: {DR2} in 1-2 weeks, tel {PHONE}. Labs on {DATE}.
Dictated by: {DR}, MD  {DATE}
cc: {DR2}, {HOSP}""",
        # 1
        """Discharge Summary
Name: {PT}   DOB: {DATE}   SSN: {SSN}
Date of admission: {DATE}. Date of discharge: {DATE}.
Brief history: {AGE90}-year-old <<woman|man>> <<admitted from|sent in from>> {NH} in {TOWN} for {PROB}. At baseline {PTF} walks with a cane and lives <<with {RELW} {REL}|alone>>.
Course: started on {MED}; <<creatinine improved from 2.1 to 1.3|sodium corrected slowly|troponin flat>>. No {PROB2}.
Condition at discharge: stable. Code status: <<DNR/DNI|full code>>, confirmed with health care proxy {RELFULL} ({RELW}), {PHONE}.
Discharge medications: {MED} 40 mg daily, {MED2} 5 mg BID.
Follow up with Dr. {DR2L} at {HOSP}, {STREET}, {TOWN}, {STATE} {ZIP}, phone {PHONE}, fax {FAX}.
{DR}, <<MD|DO>>
Electronically signed {DATE}""",
        # 2
        """DISCHARGE SUMMARY - {HOSP}
PATIENT NAME: {PTLF}   MEDICAL RECORD NUMBER: {MRN}
ADMITTED: {DATE}   DISCHARGED: {DATE}
PRINCIPAL DIAGNOSIS: {PROB}
HISTORY: The patient is a {AGE}-year-old {SEX} <<well known to|followed by>> Dr. {DR2L} for {PROB2}. <<Transferred from|Outside records from>> {HOSP2}.
PROCEDURES: <<cardiac catheterization on {DATE}|thoracentesis on {DATE}|colonoscopy {DATE}>>.
COURSE: <<Heparin drip|IV fluids|Antibiotics>> started. <<Mr.|Ms.>> {PTL} tolerated <<the procedure|treatment>> well. Wife {REL} and son {REL2} were updated daily.
INSTRUCTIONS: Call {PHONE} with questions. Results will be posted to {URL}.
ATTENDING: {DR}, MD
<<Dictated|Transcribed>> {DATE} by {RNFULL}""",
        # 3 (test only)
        """Hospital Discharge Note
Re: {PT}, {AGE90} years old, medical record {MRN}
{PTF} {PTL} was admitted {DATE} after a fall at {NH}. Found to have {PROB}; <<orthopedics|surgery>> ({DR3}) performed repair on {DATE}.
<<Her|His>> daughter {REL}, who lives at {STREET} {APT} in {TOWN}, will take <<her|him>> home. Daughter's cell {PHONE}, email {EMAIL}.
Medications changed: stop {MED}; start {MED2}. <<Anticoagulation|DVT prophylaxis>> with {MED3} for 4 weeks.
Outpatient PT through {HOSP}. Home health agency fax {FAX}.
Appointments: {DR2} on {DATE}; <<wound check|staple removal>> {DATE}.
Signed: {DR}, MD""",
    ],
    "radiology": [
        # 0
        """RADIOLOGY REPORT
Exam: <<CT chest with contrast|Chest x-ray PA and lateral|CT abdomen/pelvis without contrast|MRI brain without contrast>>
Patient: {PTLF}   MRN: {MRN}   DOB: {DATE}
Date of exam: {DATE}   Accession: {OID}
Ordering physician: {DR2}
Indication: {PROB}.
Comparison: <<{DATE}|prior study from {HOSP2} dated {DATE}|none>>.
Findings: <<No pneumothorax. Small left pleural effusion.|Mild cardiomegaly. No focal consolidation.|No acute intracranial hemorrhage.|Colonic diverticulosis without diverticulitis.>>
Impression: <<No acute process.|Findings consistent with {PROB2}.|Recommend follow-up CT in 3 months.>>
Findings discussed with Dr. {DR2L} by phone at {PHONE} on {DATE}.
Reported by: {DR}, MD
Workstation: {IP}""",
        # 1
        """{HOSP} Department of Radiology
ULTRASOUND <<RIGHT UPPER QUADRANT|RENAL|LOWER EXTREMITY VENOUS DUPLEX>>
Name: {PT}  Acct: {ACCT}  Exam date: {DATE}
History: {AGE}-year-old with {PROB}.
Technique: <<Grayscale and color Doppler images were obtained.|Real-time sonography performed.>>
Findings: <<Gallbladder wall thickening with stones.|No hydronephrosis.|No deep vein thrombosis in the left leg.>>
Impression: <<Cholecystitis.|Normal study.|No DVT.>>
Preliminary read called to {RNFULL}, RN, at extension {EXT} by {DR}.
Final report: {DR}, MD  {DATE}""",
        # 2
        """PORTABLE CXR {DATE}
Clinical history: {AGE90}F from {NH}, {PROB}, ? pneumonia.
Findings: <<Left lower lobe opacity.|Bibasilar atelectasis.|ET tube tip 4 cm above the carina.>> <<Heart size normal.|Cardiomegaly is stable.>>
IMPRESSION: <<Left lower lobe pneumonia.|Atelectasis.|Lines and tubes in good position.>>
Critical result communicated to Dr {DRL} (pgr {PAGER}) at <<1432|0915|2250>> on {DATE}.
Images: {URL}
Radiologist: {DR}""",
        # 3 (test only)
        """MRI LUMBAR SPINE WITHOUT CONTRAST
Pt: {PTLF}; MR#: {MRN}; Exam performed {DATE} at {HOSP} imaging, {STREET}, {TOWN}.
Referring: {DR2}, NP; fax report to {FAX}.
HISTORY: {PROB}; prior <<laminectomy|spinal fusion>> {DATE}.
FINDINGS: <<L4-5 disc bulge with moderate canal stenosis.|No cord compression.|Postoperative changes at L5-S1.>>
IMPRESSION: <<Moderate stenosis L4-5.|No acute findings.>>
Compared with outside study <<from {HOSP2}|dated {DATE}>>.
Electronically signed by {DR} on {DATE}. Reading station {IP}.""",
    ],
    "telemetry": [
        # 0
        """TELEMETRY / CARDIOLOGY NOTE {DATE}
{PT}, {AGE} {SEX}, bed <<12|4B|21>>, tele box {SERIAL}.
Rhythm: <<sinus rhythm with PVCs|atrial fibrillation, rate 90-110|sinus bradycardia 48-55>>. <<Run of 7 beats NSVT at 0312.|No pauses.|Pause of 3.2 seconds at 0245.>>
Alarm reviewed with {RNFULL}, RN. <<Patient asymptomatic.|Patient reports palpitations.>>
Meds: {MED} <<25 mg BID|titrated up|held this morning>>.
Electrolytes: K 3.6, Mg 1.9 - <<repleted|no change>>.
Discussed with cardiology fellow {DR2} (pager {PAGER}). Attending {DR} agrees.
{DRL}/{DATE}""",
        # 1
        """Cardiology Consult
Requested by: Dr. {DR2L}, hospitalist. Date: {DATE}.
Reason: {PROB}.
HPI: {PTF} {PTL} is a {AGE}-year-old with <<CAD s/p CABG|HFrEF, EF 30%|paroxysmal afib>> who <<presented with|reports>> {PROB2}. <<His|Her>> {RELW} {REL} notes <<worsening dyspnea on exertion|two episodes of syncope|leg swelling>>.
Device: <<dual chamber pacemaker|ICD>> serial {SERIAL}, interrogated {DATE}.
Outside cardiologist: {DR3} at {HOSP2}, tel {PHONE}.
ECG: <<sinus rhythm, LBBB|atrial flutter with 2:1 block|paced rhythm>>.
Assessment/Plan: <<continue {MED}|start {MED}|hold {MED}>>; echo; follow up in clinic.
{DR}, MD, Cardiology  pager {PAGER}""",
        # 2
        """Telemetry event log {DATE}
Patient {PTLF} ({MRN}) - monitor tech {RNF}.
<<0214|0530|2344>> <<ventricular tachycardia 12 beats|HR 38 sinus brady|SpO2 84% probe off>>; RN {RNFULL} to bedside, pt asleep.
<<0620|1105>> rhythm <<back to sinus|afib with RVR 140s>>; {DRL} paged at {PAGER}.
Remote monitoring center: {PHONE}; data uploaded from {IP}.""",
        # 3 (test only)
        """EP Clinic / Device Check - {DATE}
{TTL} {PTL} ({AGE90} y.o.) seen with {RELW} {RELFULL}. Lives in {TOWN} at {NH}.
Device: <<biventricular ICD|single chamber pacemaker>>, serial number {SERIAL}, home monitor linked to {EMAIL}.
Findings: <<battery 7 years|no shocks delivered|AT/AF burden 3%>>. <<No changes made.|Lower rate changed to 60.>>
Medications: {MED}, {MED2}.
Next remote check {DATE}; questions to device clinic {PHONE} ext {EXT}.
Signed: {DR}, NP""",
    ],
    "ed_triage": [
        # test only, whole style
        """ED TRIAGE  {DATE} <<0942|2217|1530>>
Arrival: <<EMS from home|walk-in|EMS from {NH}>>. Chief complaint: {PROB}.
{PTF} {PTL}, {AGE} yo {SEX}, <<reports|states>> {PROB2} since {DATE}. <<Hx of {PROB3}.|PMH {PROB3}.>>
Triage vitals: T 38.2 HR 112 BP 98/60 RR 22 SpO2 91% RA. ESI 2.
Accompanied by {RELW} {REL} (contact {PHONE}). Home address {STREET}, {TOWN} {ZIP}.
PCP {DR2}; pharmacy on file. ID verified, MRN {MRN}.
Triage RN: {RNFULL}""",
        """Emergency Department Note
Pt name: {PT}. DOB {DATE}. SSN on file {SSN}.
{AGE90} yo brought by <<daughter|son|grandson>> {REL} after <<unwitnessed fall|confusion|not eating>> at {NH}.
Exam: <<laceration to forehead|no focal deficits|dry mucous membranes>>. Glucose 212.
Plan: <<CT head|labs and UA|IV fluids>>; discussed with ED attending {DR}.
Family wants updates at {EMAIL} or {PHONE}.
Disposition: admit to <<medicine|observation>>, accepted by {DR3} on {DATE}.""",
        """ED quick registration
Patient {PTLF}, age {AGE}, MRN {MRN}, account {ACCT}
Address: {STREET} {APT}, {TOWN}, {STATE} {ZIP}
Emergency contact: {RELFULL} ({RELW}) {PHONE}
Insurance ID {OID}
Chief complaint: {PROB}; <<onset {DATE}|since yesterday>>.
Triage nurse {RNF} {RNL}; provider {DR}, MD.""",
    ],
}

#: Template indexes per style used only by the test split (all of ``ed_triage``).
TEST_ONLY: dict[str, set[int]] = {
    "nursing": {3, 4},
    "discharge": {3},
    "radiology": {3},
    "telemetry": {3},
    "ed_triage": {0, 1, 2},
}

RELATIONS = [
    "daughter",
    "son",
    "wife",
    "husband",
    "sister",
    "brother",
    "niece",
    "nephew",
    "granddaughter",
    "grandson",
    "mother",
    "father",
    "partner",
    "friend",
]
