// structuredClone over @ungap/structured-clone, failing with DataCloneError as the HTML Standard does.

import { deserialize, serialize } from '@ungap/structured-clone';
import { DOMException } from './dom-exception.js';

export function structuredClone(value, options = undefined) {
  if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
  if (options?.transfer !== undefined && [...options.transfer].length > 0) {
    throw new DOMException('structuredClone: transferring objects is not supported in this runtime', 'DataCloneError');
  }
  let records;
  try {
    records = serialize(value);
  } catch (err) {
    const what = err instanceof TypeError && /function|symbol/.test(err.message) ? err.message.replace('unable to serialize ', '') : 'value';
    throw new DOMException(`structuredClone: a ${what} could not be cloned.`, 'DataCloneError');
  }
  return deserialize(records);
}
