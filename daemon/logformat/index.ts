export { findUrl, requestUrl, urlOf, type UrlRange } from './access-log.js';
export { ClfTimeParser, parseClf } from './clf-time.js';
export { compileLineFormat, compileUrlParser, apacheFormatOf, formatItems, NAMED_FORMATS, type LineFormat, type LineParser, type UrlParser, type Field, type Item } from './log-format.js';
export { compileExplainer, type LineExplainer, type ParseFailure } from './log-format-explain.js';
export { BUILTIN_FIELDS, FIELD, LineFields, type BuiltinField } from './line-fields.js';
export { LineClock } from './line-clock.js';
export { JSON_FORMATS, JSON_PRESETS } from './json-format.js';
