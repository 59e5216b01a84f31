/** Verification: "is this really user X?" — per-user templates, EER evaluation, enrolment store, replay checks. */
export type {
  Calibration,
  ExplanationItem,
  OperatingPolicy,
  CohortMember,
  DetectorName,
  PopulationStats,
  RecentSamples,
  Template,
  VerificationResult,
} from "./types.js";
export {
  DETECTORS,
  DEFAULT_DETECTOR,
  MIN_ENROL_SAMPLES,
  THRESHOLD_RULE,
  TARGET_FAR_RULE,
  policyThreshold,
  publicThreshold,
  enrollUser,
  verifySample,
  scoreRaw,
  toAnomaly,
  isDetectorName,
  type EnrollOptions,
  type VerifyContext,
} from "./template.js";
export { computeEer, zeroMissFalseAlarmRate, ratesAt, type EerResult } from "./eer.js";
export { buildPopulation, POPULATION_LIMITS, type UserVectors } from "./population.js";
export { isScripted, sameTimings, RecentSampleCache, SCRIPTED_MAX_CV } from "./replay.js";
export { logTiming } from "./detectors.js";
export { anomalyScore, calibrated, confidenceScore, roundScore } from "./scores.js";
export {
  DEFAULT_POLICY,
  parsePolicy,
  policyOf,
  samePolicy,
  backgroundImpostors,
  targetFarThreshold,
} from "./policy.js";
export { explainSample, intervalName, EXPLANATION_SIZE } from "./explain.js";
export { DISCRIMINATIVE_SETTINGS } from "./population-detectors.js";
export {
  assessEnrolment,
  refuseInconsistent,
  type EnrolmentQuality,
  type EnrolmentProblem,
  type OutlierSample,
} from "./quality.js";
export {
  enrollSamples,
  defaultDetectorFor,
  MIN_COHORT,
  type EnrollSamplesOptions,
  type EnrollSamplesResult,
} from "./enroll-samples.js";
export {
  evaluateVerification,
  evaluateVerificationSuite,
  meanRanks,
  frrAtFar,
  disjointFolds,
  DEFAULT_ENROL_SIZES,
  FAR_TARGETS,
  type DetectorEvaluation,
  type EnrolSize,
  type EvaluateVerificationOptions,
  type SuiteOptions,
  type SuiteRun,
  type VerificationEvaluation,
  type VerificationProtocol,
} from "./evaluate.js";
export {
  saveTemplates,
  stageTemplates,
  indexFileName,
  loadTemplates,
  readVerificationIndex,
  verificationDir,
  templateFileName,
  TemplateStore,
  STORE_FORMAT,
  type SaveTemplatesMeta,
  type VerificationIndex,
  type VerifyCounters,
} from "./store.js";
export { adaptTemplate, mayAdapt, DEFAULT_ADAPTATION, type AdaptationSettings } from "./adapt.js";
