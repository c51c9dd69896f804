// WHATWG Streams from web-streams-polyfill's ponyfill: one implementation shared by every class here.

export {
  ReadableStream,
  ReadableStreamDefaultReader,
  WritableStream,
  TransformStream,
  ByteLengthQueuingStrategy,
  CountQueuingStrategy,
} from 'web-streams-polyfill';
