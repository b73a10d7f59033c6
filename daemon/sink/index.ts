export { AvroSink } from './avro-sink.js';
