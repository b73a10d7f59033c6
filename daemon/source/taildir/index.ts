export { TaildirSource, TaildirSettingError, type FollowedView } from './taildir-source.js';
export { TAIL_STATES, type TailState } from './tail-file.js';
