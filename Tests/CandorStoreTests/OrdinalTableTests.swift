@testable import CandorStore
import CandorCore
import Testing

@Suite("Ordinal table") struct OrdinalTableTests {
    @Test("ids get dense ordinals in arrival order, are found again after the table grows, and read back exactly")
    func roundTrip() {
        var table = OrdinalTable()
        // Ids as the store makes them (a shared prefix and time part), plus odd lengths and non-ASCII.
        let ids = (0..<5_000).map { _ in Identifier.make("sub") } + ["sub_x", "", "sub_שלום", "sub_bench0000000001"]
        for (expected, id) in ids.enumerated() { #expect(table.insert(id) == expected) }
        #expect(table.count == ids.count)
        for (expected, id) in ids.enumerated() {
            #expect(table.ordinal(of: id) == expected, "\(id)")
            #expect(table.id(at: expected) == id)
        }
        // Inserting again changes nothing; an unknown id (even a prefix of a known one) is not found.
        #expect(table.insert(ids[42]) == 42 && table.count == ids.count)
        #expect(table.ordinal(of: "sub_") == nil)
        #expect(table.ordinal(of: String(ids[7].dropLast())) == nil)
    }
}
