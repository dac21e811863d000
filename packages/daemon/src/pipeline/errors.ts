import { PipelineFileError } from '@mlp/proto'

/** An invalid pipeline file, lock file or params file; the message names file, line and stage. */
export const PipelineError = PipelineFileError
