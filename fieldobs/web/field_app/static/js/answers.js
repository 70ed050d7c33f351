// A visit's answers in the two shapes the app keeps them: as the form edits them in a draft
// (keyed by item) and as the contract sends them (a list in the checklist's order).

/** Return the answers a draft holds, in the checklist's order, as the contract wants them. */
export function answersOf(draft, checklist) {
  const answers = [];
  for (const section of checklist.sections) {
    for (const item of section.items) {
      const a = draft.answers[item.id];
      if (!a) continue;
      const photos = a.na ? [] : a.photos || [];
      const hasValue = a.value !== null && a.value !== undefined && !Number.isNaN(a.value);
      const comment = (a.comment || "").trim();
      if (!a.na && !hasValue && !photos.length && !comment) continue;
      const answer = { item: item.id, value: a.na || !hasValue ? null : a.value };
      if (a.na) answer.na = true;
      if (comment) answer.comment = comment;
      if (photos.length) answer.photos = photos;
      answers.push(answer);
    }
  }
  return answers;
}

/** Return a sent visit's answers as a draft holds them (answersOf, the other way round). */
export function draftAnswers(sent) {
  const answers = {};
  for (const a of sent) {
    answers[a.item] = { value: a.value ?? null, na: !!a.na, comment: a.comment || "",
      photos: a.photos || [] };
  }
  return answers;
}
