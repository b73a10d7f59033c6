export { findUrl, requestUrl, urlOf, type UrlRange } from './access-log.js';
export { ClfTimeParser, parseClf } from './clf-time.js';
export { compileUrlParser, apacheFormatOf, formatItems, NAMED_FORMATS, type UrlParser, type Field, type Item } from './log-format.js';
export { compileExplainer, type LineExplainer, type ParseFailure } from './log-format-explain.js';
