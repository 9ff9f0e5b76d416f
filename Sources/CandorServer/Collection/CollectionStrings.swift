/// The words of the collection pages (preference center, privacy page, polls) in English and Hebrew.
/// They are laid over the portal's words, so the shared header, footer and message pages read the same.
enum CollectionStrings {
    /// The portal's strings of a language with these laid over them, and `title` set to `title`'s text.
    static func of(_ language: PageLanguage, title: String) -> [String: String] {
        var merged = PortalStrings.of(language).merging(own[language.code] ?? own["en"]!) { $1 }
        merged["title"] = merged[title] ?? title
        return merged
    }

    static let own: [String: [String: String]] = [
        "en": [
            "prefTitle": "Your preferences",
            "requestHeading": "Open your preferences",
            "requestIntro": "Enter the e-mail address you gave us. We will send you a link to your preferences; it works for 7 days.",
            "sentBody": "If we know this address, a link to your preferences is on its way. It works for 7 days. Nothing arrived after a few minutes? Check your spam folder, or ask again.",
            "prefHeading": "Your preferences",
            "prefIntro": "Choose what you tell us and what we may use it for. Change it whenever you like: we use only what you choose here.",
            "whyAsk": "Why we ask",
            "whatYouGet": "What you get",
            "noticeVersion": "Notice version",
            "consentSwitch": "Yes, use my answers for this",
            "consentHint": "You can turn this off at any time; it takes effect at once.",
            "noConsentNeeded": "We need this to serve you under our agreement with you, so we do not ask for consent. You can still restrict it or object on your rights page.",
            "objectedNote": "You objected to direct marketing, so this stays off. To turn it on, first lift the objection on your rights page.",
            "alsoUsedFor": "Also used for",
            "notAnswered": "Not answered",
            "clearHint": "Leave empty to remove your answer.",
            "save": "Save my choices",
            "saved": "Your choices are saved.",
            "prefRightsHeading": "Your rights",
            "prefRightsText": "See everything we hold about you, download it, correct it, restrict its use, object to marketing, or erase it all.",
            "prefRightsLink": "Go to your rights page",
            "privacyLink": "How we use data (privacy at a glance)",
            "linkWorksUntil": "This link works until",
            "prefExpiredBody": "Links to your preferences work for 7 days. Ask for a new one and we will send it to you.",
            "noticeChangedHeading": "We have updated what we tell you",
            "noticeChangedBody": "Since this page was shown, we changed why we ask or what you get for at least one purpose. Nothing was saved. Please read the new words and choose again.",
            "reviewNotice": "Read the new notice",
            "gpcNote": "Your browser sends Global Privacy Control, so we have recorded that you opt out of the sale and sharing of your data.",
            "optedOutNote": "You have opted out of the sale and sharing of your data.",
            "askPreferences": "Ask for a new link",
            "privacyTitle": "Privacy at a glance",
            "privacyIntro": "Why we ask for information, what you get for it, how long we keep it and who uses it. This page is generated from our live registry.",
            "privacyPurposes": "What we use data for",
            "basis": "Legal basis",
            "keptFor": "Kept for",
            "days": "days",
            "usedBy": "Who uses it",
            "noTeams": "Nobody uses it yet.",
            "weAsk": "Questions we ask",
            "nothingAsked": "We ask nothing for this purpose.",
            "consent": "your consent",
            "contract": "our agreement with you",
            "legitimate_interest": "our legitimate interest",
            "legal_obligation": "a legal obligation",
            "gpcHeading": "Global Privacy Control",
            "gpcText": "We honour the Global Privacy Control signal: when your browser sends it to any of our pages where you share data, we record that you opt out of the sale and sharing of your data.",
            "moreHeading": "More",
            "linkRecords": "Record of processing activities",
            "linkRights": "Your data and your rights",
            "linkGPC": "Our Global Privacy Control statement",
            "linkPreferences": "Your preferences",
            "pollTitle": "Community poll",
            "pollAnonymous": "Anonymous: we keep only the number of people who chose each answer — not who you are, not your IP address, not when you answered.",
            "vote": "Send my answer",
            "chooseOne": "Choose one answer.",
            "resultsHeading": "Results",
            "notEnough": "Not enough responses yet. Results appear once at least %1 people have answered, so that no answer can point at anyone.",
            "responses": "responses",
            "thanks": "Thank you — your answer is counted.",
            "alreadyHeading": "You have already answered",
            "alreadyBody": "Each person answers a poll once. Your first answer is counted.",
            "seeResults": "See the results",
            "closedHeading": "This poll is closed",
            "closedBody": "It no longer takes answers.",
            "pollMissingHeading": "This poll does not exist",
            "pollMissingBody": "The address may be incomplete, or the poll was removed.",
            "answerFirstHeading": "Answer first",
            "answerFirstBody": "The results are shared with everyone who has answered. Answer the poll to see them.",
            "toPoll": "Go to the poll",
            "pollCsrfBody": "For your safety, the form works only from the page that showed it. Go back to the poll and answer again.",
        ],
        "he": [
            "prefTitle": "ההעדפות שלכם",
            "requestHeading": "פתיחת ההעדפות שלכם",
            "requestIntro": "הזינו את כתובת הדוא״ל שמסרתם לנו. נשלח לכם קישור להעדפות שלכם; הוא פועל במשך 7 ימים.",
            "sentBody": "אם הכתובת מוכרת לנו, קישור להעדפות שלכם בדרך אליכם. הוא פועל במשך 7 ימים. לא הגיע כלום אחרי כמה דקות? בדקו בתיקיית הספאם, או בקשו שוב.",
            "prefHeading": "ההעדפות שלכם",
            "prefIntro": "בחרו מה לספר לנו ולמה מותר לנו להשתמש בזה. אפשר לשנות בכל עת: אנחנו משתמשים רק במה שתבחרו כאן.",
            "whyAsk": "למה אנחנו שואלים",
            "whatYouGet": "מה תקבלו",
            "noticeVersion": "גרסת ההודעה",
            "consentSwitch": "כן, השתמשו בתשובות שלי לשם כך",
            "consentHint": "אפשר לכבות בכל עת; השינוי חל מיד.",
            "noConsentNeeded": "אנחנו צריכים זאת כדי לשרת אתכם במסגרת ההסכם איתכם, ולכן איננו מבקשים הסכמה. עדיין אפשר להגביל או להתנגד בדף הזכויות שלכם.",
            "objectedNote": "התנגדתם לדיוור ישיר, ולכן זה נשאר כבוי. כדי להפעיל, בטלו תחילה את ההתנגדות בדף הזכויות שלכם.",
            "alsoUsedFor": "משמש גם ל",
            "notAnswered": "לא נענה",
            "clearHint": "השאירו ריק כדי למחוק את התשובה.",
            "save": "שמירת הבחירות שלי",
            "saved": "הבחירות שלכם נשמרו.",
            "prefRightsHeading": "הזכויות שלכם",
            "prefRightsText": "לראות את כל מה שאנחנו מחזיקים עליכם, להוריד, לתקן, להגביל שימוש, להתנגד לשיווק או למחוק הכול.",
            "prefRightsLink": "לדף הזכויות שלכם",
            "privacyLink": "איך אנחנו משתמשים במידע (פרטיות במבט אחד)",
            "linkWorksUntil": "הקישור הזה פועל עד",
            "prefExpiredBody": "קישורים להעדפות פועלים במשך 7 ימים. בקשו קישור חדש ונשלח אותו אליכם.",
            "noticeChangedHeading": "עדכנו את מה שאנחנו מספרים לכם",
            "noticeChangedBody": "מאז שהדף הוצג, שינינו למה אנחנו שואלים או מה תקבלו לפחות עבור מטרה אחת. שום דבר לא נשמר. קראו את הנוסח החדש ובחרו שוב.",
            "reviewNotice": "לקריאת ההודעה החדשה",
            "gpcNote": "הדפדפן שלכם שולח אות Global Privacy Control, ולכן רשמנו שאתם מבקשים שלא נמכור ולא נשתף את המידע שלכם.",
            "optedOutNote": "ביקשתם שלא נמכור ולא נשתף את המידע שלכם.",
            "askPreferences": "בקשת קישור חדש",
            "privacyTitle": "פרטיות במבט אחד",
            "privacyIntro": "למה אנחנו מבקשים מידע, מה תקבלו בתמורה, כמה זמן נשמור אותו ומי משתמש בו. הדף נוצר מהמרשם העדכני שלנו.",
            "privacyPurposes": "למה אנחנו משתמשים במידע",
            "basis": "בסיס חוקי",
            "keptFor": "נשמר למשך",
            "days": "ימים",
            "usedBy": "מי משתמש בו",
            "noTeams": "אף אחד עדיין לא משתמש בו.",
            "weAsk": "השאלות שלנו",
            "nothingAsked": "איננו שואלים דבר למטרה זו.",
            "consent": "ההסכמה שלכם",
            "contract": "ההסכם איתכם",
            "legitimate_interest": "האינטרס הלגיטימי שלנו",
            "legal_obligation": "חובה חוקית",
            "gpcHeading": "Global Privacy Control",
            "gpcText": "אנחנו מכבדים את אות Global Privacy Control: כשהדפדפן שלכם שולח אותו לאחד הדפים שבהם אתם משתפים מידע, אנחנו רושמים שאתם מבקשים שלא נמכור ולא נשתף את המידע שלכם.",
            "moreHeading": "עוד",
            "linkRecords": "רשומת פעילויות עיבוד",
            "linkRights": "המידע שלכם והזכויות שלכם",
            "linkGPC": "הצהרת Global Privacy Control שלנו",
            "linkPreferences": "ההעדפות שלכם",
            "pollTitle": "סקר קהילה",
            "pollAnonymous": "אנונימי: אנחנו שומרים רק כמה אנשים בחרו בכל תשובה — לא מי אתם, לא כתובת ה-IP שלכם ולא מתי עניתם.",
            "vote": "שליחת התשובה שלי",
            "chooseOne": "בחרו תשובה אחת.",
            "resultsHeading": "תוצאות",
            "notEnough": "עדיין אין מספיק תשובות. התוצאות יופיעו כשלפחות %1 אנשים יענו, כדי שאף תשובה לא תצביע על מישהו.",
            "responses": "תשובות",
            "thanks": "תודה — התשובה שלכם נספרה.",
            "alreadyHeading": "כבר עניתם",
            "alreadyBody": "כל אדם עונה על סקר פעם אחת. התשובה הראשונה שלכם נספרה.",
            "seeResults": "לתוצאות",
            "closedHeading": "הסקר הזה סגור",
            "closedBody": "הוא אינו מקבל עוד תשובות.",
            "pollMissingHeading": "הסקר הזה אינו קיים",
            "pollMissingBody": "ייתכן שהכתובת חלקית, או שהסקר הוסר.",
            "answerFirstHeading": "ענו קודם",
            "answerFirstBody": "התוצאות משותפות עם כל מי שענה. ענו על הסקר כדי לראות אותן.",
            "toPoll": "לסקר",
            "pollCsrfBody": "למען ביטחונכם, הטופס פועל רק מהדף שהציג אותו. חזרו לסקר וענו שוב.",
        ],
    ]

    /// The mail that carries a preference-center link.
    static func mail(_ language: PageLanguage, link: String) -> (subject: String, body: String) {
        if language.code == "he" {
            return ("הקישור להעדפות שלכם", """
            שלום,

            ביקשתם לפתוח את ההעדפות שלכם. הקישור הזה פועל במשך 7 ימים:

            \(link)

            לא ביקשתם? אפשר להתעלם מההודעה.
            """)
        }
        return ("Your link to your preferences", """
        Hello,

        You asked to open your preferences. This link works for 7 days:

        \(link)

        Did not ask? You can ignore this message.
        """)
    }
}
