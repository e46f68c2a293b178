/**
 * Removes contact details typed into free text meant to be public: e-mail addresses and phone numbers
 * (as FixMyStreet does), so that a summary cannot out the person who wrote it.
 */
const EMAIL = /[A-Za-z0-9._%+-]+(?:@|\s*\(at\)\s*|\s+at\s+)[A-Za-z0-9-]+(?:(?:\.|\s*\(dot\)\s*|\s+dot\s+)[A-Za-z0-9-]+)*(?:\.|\s*\(dot\)\s*|\s+dot\s+)[A-Za-z]{2,}/g
// Seven or more digits, allowing the separators and brackets people type: 555-123-4567, (555) 123 4567,
// +1 555.123.4567, 5551234567. Years and short counts stay untouched.
const PHONE = /(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d(?:[\s.-]?\d){6,14}/g

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/

export const REMOVED = '[contact details removed]'

export function removeContactDetails (text: string): string {
  return text.replace(EMAIL, REMOVED).replace(PHONE, (match) => {
    if (ISO_DATE.test(match.trim())) return match
    const digits = match.replace(/\D/g, '')
    return digits.length >= 7 ? REMOVED : match
  })
}
