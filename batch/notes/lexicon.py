"""Curated clinical target lexicon for rule-based NER: problems/findings, medications,
procedures.

Written for WardWatch from common inpatient vocabulary (discharge summaries, H&P notes),
spelled as clinicians write them, with frequent abbreviations. Not UMLS-complete: it is a
rule base meant to be extended. Matching is case-insensitive (spaCy ``PhraseMatcher`` on
``LOWER``); a plural is generated for multi-letter problem terms ending in a consonant.
Medications are generic names (RxNorm ingredient level) plus a few very common brand names.
"""

from __future__ import annotations

from typing import Any

PROBLEMS: list[str] = """
abdominal pain|abscess|acidosis|acute coronary syndrome|acute kidney injury|aki|acute distress
|respiratory distress|adenopathy|lymphadenopathy|agitation|alcohol abuse|alkalosis|allergic reaction
|altered mental status|ams|anaphylaxis|anemia|aneurysm|angina|anorexia|anxiety|aortic stenosis
|aphasia|apnea|sleep apnea|obstructive sleep apnea|osa|arrhythmia|arthralgia|arthralgias|arthritis
|ascites|aspiration|asthma|ataxia|atelectasis|atrial fibrillation|afib|a-fib|atrial flutter
|back pain|bacteremia|bleeding|gi bleed|gastrointestinal bleeding|blurred vision|bradycardia
|bronchitis|bronchiectasis|bruising|cancer|carcinoma|cardiomegaly|cardiomyopathy|cellulitis
|chest pain|chest pressure|chest tightness|chills|cholecystitis|cirrhosis|claudication|colitis
|confusion|congestive heart failure|chf|heart failure|constipation|copd|chronic obstructive pulmonary disease
|coronary artery disease|cad|cough|crackles|rales|cyanosis|deep vein thrombosis|dvt|dehydration
|delirium|dementia|depression|dermatitis|diabetes|diabetes mellitus|dm|type 2 diabetes|type 1 diabetes
|diabetic ketoacidosis|dka|diaphoresis|diarrhea|dizziness|dysarthria|dysphagia|dyspnea
|dyspnea on exertion|doe|dysuria|edema|pedal edema|peripheral edema|pulmonary edema|effusion
|pleural effusion|pericardial effusion|embolism|pulmonary embolism|pe|encephalopathy|endocarditis
|end-stage renal disease|esrd|chronic kidney disease|ckd|epistaxis|erythema|fatigue|fever|fevers
|febrile|fracture|gallops|gastritis|gastroenteritis|gerd|gout|hallucinations|headache|headaches
|hearing loss|heart murmur|murmur|murmurs|hematemesis|hematochezia|hematuria|hemoptysis
|hemorrhage|hepatitis|hepatomegaly|splenomegaly|hernia|hyperglycemia|hyperkalemia|hyperlipidemia
|hypernatremia|hypertension|htn|hypoglycemia|hypokalemia|hyponatremia|hypotension|hypothyroidism
|hyperthyroidism|hypoxia|hypoxemia|ileus|infection|influenza|insomnia|jaundice|jvd
|jugular venous distention|kidney stone|nephrolithiasis|lethargy|leukocytosis|leukopenia
|lightheadedness|malaise|mass|melena|meningitis|metastasis|metastases|myalgia|myalgias
|myocardial infarction|mi|stemi|nstemi|nausea|neck pain|neuropathy|numbness|obesity|orthopnea
|osteoarthritis|osteomyelitis|osteoporosis|pain|palpitations|pancreatitis|paresthesia|pneumonia
|pneumothorax|polyps|polyuria|pressure ulcer|pruritus|pulmonary hypertension|pyelonephritis|rash
|rashes|renal failure|renal insufficiency|respiratory failure|rhonchi|rigors|rubs|sepsis
|septic shock|shock|seizure|seizures|shortness of breath|sob|sinusitis|somnolence|stenosis
|stridor|stroke|cva|tia|transient ischemic attack|syncope|tachycardia|tachypnea
|thrombocytopenia|thrombosis|tremor|tuberculosis|ulcer|urinary retention|urinary tract infection
|uti|urticaria|vertigo|vomiting|weakness|weight loss|weight gain|wheezing|wheezes|wound infection
|lymphoma|leukemia|myeloma|tumor|nodule|lesion|abnormality|hypercalcemia|coagulopathy
|anticoagulation|cholangitis|diverticulitis|diverticulosis|hemorrhoids|ventricular tachycardia
|ventricular fibrillation|heart block|bundle branch block|sick sinus syndrome|hemiparesis
|hemiplegia|focal neurologic deficits|loss of consciousness|loc|fall|falls|trauma|laceration
|contusion|sore throat|rhinorrhea|congestion|ear pain|photophobia|neck stiffness
|constitutional symptoms|night sweats|sweats|anorexia|early satiety|bloating|flank pain
|urgency|frequency|incontinence|drug allergies|allergies|substance abuse|tobacco use|smoking
|breast cancer|lung cancer|colon cancer|colorectal cancer|prostate cancer|pancreatic cancer
|ovarian cancer|skin cancer|melanoma|infiltrate|infiltrates|consolidation|opacity|hypoxic
|chf exacerbation|copd exacerbation|exacerbation|bacteremia|fungemia|mrsa|c. diff|clostridium difficile
""".replace("\n", "").split("|")

MEDICATIONS: list[str] = """
acetaminophen|tylenol|aspirin|asa|ibuprofen|motrin|naproxen|ketorolac|toradol|morphine|hydromorphone
|dilaudid|oxycodone|percocet|hydrocodone|vicodin|fentanyl|tramadol|codeine|methadone|buprenorphine
|naloxone|heparin|enoxaparin|lovenox|warfarin|coumadin|apixaban|eliquis|rivaroxaban|xarelto
|dabigatran|clopidogrel|plavix|ticagrelor|prasugrel|alteplase|tpa|metoprolol|lopressor|toprol
|atenolol|carvedilol|coreg|propranolol|labetalol|esmolol|diltiazem|verapamil|amlodipine|norvasc
|nifedipine|lisinopril|enalapril|captopril|ramipril|losartan|valsartan|irbesartan
|sacubitril|hydralazine|isosorbide mononitrate|isosorbide dinitrate|nitroglycerin|ntg|clonidine
|furosemide|lasix|bumetanide|torsemide|hydrochlorothiazide|hctz|chlorthalidone|spironolactone
|metolazone|digoxin|amiodarone|sotalol|dofetilide|flecainide|adenosine|atropine|epinephrine
|norepinephrine|levophed|vasopressin|dopamine|dobutamine|milrinone|phenylephrine|atorvastatin
|lipitor|simvastatin|rosuvastatin|crestor|pravastatin|ezetimibe|insulin|insulin glargine|lantus
|insulin lispro|humalog|insulin aspart|novolog|regular insulin|nph|metformin|glucophage|glipizide
|glyburide|glimepiride|sitagliptin|empagliflozin|dapagliflozin|liraglutide|semaglutide
|levothyroxine|synthroid|prednisone|prednisolone|methylprednisolone|solu-medrol|dexamethasone
|hydrocortisone|albuterol|ipratropium|duoneb|tiotropium|fluticasone|budesonide|montelukast
|omeprazole|pantoprazole|protonix|esomeprazole|lansoprazole|famotidine|ranitidine|sucralfate
|ondansetron|zofran|metoclopramide|reglan|prochlorperazine|promethazine|docusate|colace|senna
|bisacodyl|polyethylene glycol|miralax|lactulose|loperamide|simethicone|magnesium oxide
|vancomycin|piperacillin|piperacillin-tazobactam|zosyn|cefazolin|ceftriaxone|rocephin|cefepime
|ceftazidime|cephalexin|keflex|ampicillin|ampicillin-sulbactam|unasyn|amoxicillin
|amoxicillin-clavulanate|augmentin|penicillin|nafcillin|oxacillin|meropenem|imipenem|ertapenem
|aztreonam|gentamicin|tobramycin|amikacin|ciprofloxacin|cipro|levofloxacin|levaquin|moxifloxacin
|azithromycin|zithromax|clarithromycin|erythromycin|doxycycline|minocycline|tetracycline
|clindamycin|metronidazole|flagyl|trimethoprim-sulfamethoxazole|bactrim|nitrofurantoin|linezolid
|daptomycin|rifampin|fluconazole|diflucan|voriconazole|micafungin|caspofungin|amphotericin
|acyclovir|valacyclovir|ganciclovir|oseltamivir|tamiflu|remdesivir|gabapentin|neurontin
|pregabalin|lyrica|levetiracetam|keppra|phenytoin|dilantin|valproate|depakote|carbamazepine
|lamotrigine|lorazepam|ativan|diazepam|valium|alprazolam|xanax|clonazepam|klonopin|midazolam
|versed|haloperidol|haldol|quetiapine|seroquel|olanzapine|zyprexa|risperidone|aripiprazole
|sertraline|zoloft|fluoxetine|prozac|citalopram|escitalopram|lexapro|paroxetine|venlafaxine
|duloxetine|bupropion|wellbutrin|mirtazapine|trazodone|amitriptyline|nortriptyline|lithium
|donepezil|memantine|zolpidem|ambien|melatonin|diphenhydramine|benadryl|hydroxyzine|loratadine
|cetirizine|potassium chloride|kcl|magnesium sulfate|calcium gluconate|calcium carbonate
|sodium bicarbonate|ferrous sulfate|iron|folic acid|thiamine|vitamin d|vitamin b12|cyanocobalamin
|multivitamin|allopurinol|colchicine|tamsulosin|flomax|finasteride|oxybutynin|propofol|ketamine
|etomidate|succinylcholine|rocuronium|vecuronium|cisatracurium|dexmedetomidine|precedex
|tacrolimus|cyclosporine|mycophenolate|azathioprine|methotrexate|hydroxychloroquine|rituximab
|cyclophosphamide|cisplatin|carboplatin|doxorubicin|vincristine|tamoxifen|letrozole|filgrastim
|epoetin|erythropoietin|octreotide|vitamin k|phytonadione|protamine|sodium chloride|normal saline
|lactated ringer's|dextrose|d5w|albumin|packed red blood cells|prbc|fresh frozen plasma|ffp
|platelets|oxygen|nicotine patch|acetylcysteine|n-acetylcysteine|chlorhexidine|mupirocin
""".replace("\n", "").split("|")

PROCEDURES: list[str] = """
appendectomy|cholecystectomy|laparoscopic cholecystectomy|colectomy|hemicolectomy|colonoscopy
|endoscopy|upper endoscopy|egd|esophagogastroduodenoscopy|ercp|sigmoidoscopy|bronchoscopy
|cystoscopy|biopsy|bone marrow biopsy|lumbar puncture|lp|thoracentesis|paracentesis
|pericardiocentesis|arthrocentesis|intubation|endotracheal intubation|extubation|tracheostomy
|mechanical ventilation|bipap|cpap|central line|central line placement|picc|picc line|arterial line
|foley|foley catheter|chest tube|nasogastric tube|ng tube|peg tube|gastrostomy|dialysis
|hemodialysis|peritoneal dialysis|crrt|transfusion|blood transfusion|cardiac catheterization
|catheterization|cath|angiography|coronary angiography|angioplasty|pci|percutaneous coronary intervention
|stent|stent placement|cabg|coronary artery bypass graft|bypass surgery|valve replacement
|aortic valve replacement|mitral valve repair|pacemaker|pacemaker placement|icd|defibrillator
|cardioversion|ablation|echocardiogram|echo|transthoracic echocardiogram|tte
|transesophageal echocardiogram|tee|electrocardiogram|ecg|ekg|holter|stress test|ct|ct scan
|cat scan|cta|mri|mra|x-ray|chest x-ray|cxr|ultrasound|doppler|duplex|pet scan|v/q scan|eeg|emg
|mammogram|hysterectomy|mastectomy|lumpectomy|prostatectomy|turp|nephrectomy|cesarean section
|c-section|craniotomy|laminectomy|spinal fusion|discectomy|hip replacement|knee replacement
|arthroplasty|total hip arthroplasty|total knee arthroplasty|arthroscopy|amputation
|debridement|incision and drainage|i&d|skin graft|tonsillectomy|thyroidectomy|splenectomy
|gastrectomy|whipple|hernia repair|laparotomy|exploratory laparotomy|laparoscopy|thoracotomy
|thoracoscopy|vats|lobectomy|pneumonectomy|explantation|radiation therapy|radiotherapy
|chemotherapy|immunotherapy|physical therapy|occupational therapy|surgery|operation|resection
|anastomosis|ostomy|colostomy|ileostomy|embolization|thrombectomy|endarterectomy
|carotid endarterectomy|ivc filter|tpa administration|cpr|resuscitation|sedation|anesthesia
|general anesthesia|vaccination|immunization|wound care|suture|sutures
""".replace("\n", "").split("|")


#: Abbreviations matched only when written in upper case ("PE" is pulmonary embolism, "pe" is
#: not; "CT" is a scan, "ct" a count), as token patterns on ``TEXT``.
ABBREVIATIONS: frozenset[str] = frozenset(
    """
aki ams osa cad chf copd dvt dm dka doe pe esrd ckd gerd htn jvd mi stemi nstemi sob cva tia
uti loc asa tpa ntg hctz kcl nph prbc ffp d5w egd ercp lp picc crrt pci cabg icd tte tee ecg
ekg ct cta mri mra cxr eeg emg turp vats cpr bipap cpap echo cath
""".split()
)


def _clean(terms: list[str]) -> list[str]:
    return sorted({t.strip().lower() for t in terms if t.strip()})


def lexicon_patterns() -> list[dict[str, Any]]:
    """EntityRuler phrase patterns: labels ``PROBLEM``, ``MEDICATION``, ``PROCEDURE``.

    A term in more than one list keeps the first label (problem > medication > procedure).
    """
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for label, terms in (("PROBLEM", PROBLEMS), ("MEDICATION", MEDICATIONS), ("PROCEDURE", PROCEDURES)):
        for t in _clean(terms):
            variants = [t]
            if label == "PROBLEM" and len(t) > 3 and t[-1] not in "sy" and " " not in t[-3:]:
                variants.append(t + "s")
            for v in variants:
                if v in seen:
                    continue
                seen.add(v)
                if v in ABBREVIATIONS:
                    out.append({"label": label, "pattern": [{"TEXT": v.upper()}], "id": v})
                else:
                    out.append({"label": label, "pattern": v, "id": v})
    return out
