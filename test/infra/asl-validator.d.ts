declare module 'asl-validator' {
  interface ValidationError {
    readonly message?: string;
  }
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly ValidationError[];
    errorsText(separator?: string): string;
  }
  interface ValidationOptions {
    readonly checkPaths?: boolean;
    readonly checkArn?: boolean;
  }
  /** Validates an Amazon States Language definition (it fills in QueryLanguage on the object it is given). */
  export default function aslValidator(definition: unknown, options?: ValidationOptions): ValidationResult;
}
