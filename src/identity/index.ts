/** Enrolment, verification and the user lifecycle over the identity store (src/store): what commands and routes call. */
export {
  IdentityService,
  DEFAULT_IDENTITY_OPTIONS,
  MAX_USER_ID_LENGTH,
  sampleHash,
  userKey,
  type AutoOutcome,
  type EnrolMode,
  type EnrolOutcome,
  type IdentityServiceOptions,
  type UserView,
} from "./service.js";
export { openIdentities, type OpenIdentitiesOptions, type OpenedIdentities } from "./open.js";
export { importLegacyVerification, type LegacyImport } from "./legacy.js";
